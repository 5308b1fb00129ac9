import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { collectImageInputs, withUniqueStems } from '../cli/inputs.js';
import { outputPath, parseFormats } from '../cli/segment-outputs.js';
import { tempDir } from './cli-helpers.js';

describe('collectImageInputs', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  const at = (...parts: string[]) => path.join(dir, ...parts);

  before(async () => {
    ({ dir, cleanup } = await tempDir('inputs'));
    await mkdir(at('photos', 'berlin'), { recursive: true });
    await mkdir(at('empty'));
    for (const file of ['photos/b.PNG', 'photos/a.jpg', 'photos/notes.txt', 'photos/berlin/a.webp', 'single.tiff']) {
      await writeFile(at(...file.split('/')), 'x');
    }
  });
  after(() => cleanup());

  it('expands folders recursively to their images (any case of extension), sorted, keeping sub-folders in the stem', async () => {
    const { images, problems } = await collectImageInputs([at('photos')]);
    assert.deepEqual(problems, []);
    assert.deepEqual(images, [
      { file: at('photos', 'a.jpg'), stem: 'a' },
      { file: at('photos', 'b.PNG'), stem: 'b' },
      { file: at('photos', 'berlin', 'a.webp'), stem: path.join('berlin', 'a') },
    ]);
  });

  it('takes files as given and globs by base name, each file once, and reports inputs that yield nothing', async () => {
    const { images, problems } = await collectImageInputs([
      at('single.tiff'),
      `${dir}/photos/*.jpg`,
      at('photos', 'a.jpg'),
      at('missing.png'),
      at('empty'),
      `${dir}/*.gif`,
    ]);
    assert.deepEqual(images, [
      { file: at('single.tiff'), stem: 'single' },
      { file: at('photos', 'a.jpg'), stem: 'a' },
    ]);
    assert.deepEqual(problems, [
      { input: at('missing.png'), reason: 'no such file or directory' },
      { input: at('empty'), reason: 'directory holds no image (png, jpg, jpeg, webp, tif, tiff, gif, avif) or video (mp4, mov, m4v, mkv, webm, avi, mpg, mpeg, ts, mts, m2ts, wmv, flv, 3gp, ogv, y4m)' },
      { input: `${dir}/*.gif`, reason: 'pattern matches no file' },
    ]);
  });

  it('withUniqueStems refuses a second image whose outputs would overwrite the first', async () => {
    const collected = await collectImageInputs([at('photos', 'a.jpg'), at('photos', 'berlin', 'a.webp'), `${dir}/photos/berlin/*`]);
    const { images, problems } = withUniqueStems(collected);
    assert.deepEqual(images, [{ file: at('photos', 'a.jpg'), stem: 'a' }]);
    assert.deepEqual(problems, [
      { input: at('photos', 'berlin', 'a.webp'), reason: `its outputs would be named a, like those of ${at('photos', 'a.jpg')}` },
    ]);
  });
});

describe('segment output names', () => {
  it('parses a comma-separated format list, each format once', () => {
    assert.deepEqual(parseFormats('labelIds, color,labelIds,json'), ['labelIds', 'color', 'json']);
    assert.throws(() => parseFormats('color,png'), /unknown format 'png'; expected a comma-separated list of labelIds, trainIds, color, colorPalette, overlay, json/);
    assert.throws(() => parseFormats(''), /unknown format ''/);
  });

  it('names outputs Cityscapes-style after the stem', () => {
    const names = (['labelIds', 'trainIds', 'color', 'colorPalette', 'overlay', 'json'] as const).map((f) => outputPath('out', path.join('city', 'x_leftImg8bit'), f, { overlayFormat: 'jpeg' }));
    assert.deepEqual(names, [
      'out/city/x_leftImg8bit_labelIds.png',
      'out/city/x_leftImg8bit_trainIds.png',
      'out/city/x_leftImg8bit_color.png',
      'out/city/x_leftImg8bit_colorPalette.png',
      'out/city/x_leftImg8bit_overlay.jpg',
      'out/city/x_leftImg8bit.json',
    ]);
    assert.equal(outputPath('out', 'x', 'overlay', { overlayFormat: 'png' }), 'out/x_overlay.png');
  });
});
