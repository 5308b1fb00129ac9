import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { decode as decodePng } from 'fast-png';
import { loadModel } from '../model/load-model.js';
import { cityscapes } from '../segmentation/labels/index.js';
import { segmentImage } from '../segmentation/pipeline.js';
import type { ClassMap } from '../segmentation/types.js';
import { rampImage, readPixels, runCli, tempDir } from './cli-helpers.js';

const ALL_FORMATS = 'labelIds,trainIds,color,colorPalette,overlay,json';
const SUFFIXES = ['_labelIds.png', '_trainIds.png', '_color.png', '_colorPalette.png', '_overlay.jpg', '.json'];

/** The images of the test: odd sizes, one in a sub-folder, one JPEG. */
const GOOD = [
  { rel: 'street.png', stem: 'street', width: 97, height: 61, make: (w: number, h: number) => rampImage(w, h).png().toBuffer() },
  { rel: path.join('city', 'frame.jpg'), stem: path.join('city', 'frame'), width: 64, height: 128, make: (w: number, h: number) => rampImage(w, h).jpeg().toBuffer() },
];

function histogram(values: Uint8Array): Map<number, number> {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
}

describe('cityseg segment', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let inputs: string;
  let out: string;
  /** What the pipeline computes in-process for each good image: the CLI must write exactly this. */
  const expected = new Map<string, ClassMap>();
  let firstRun: Awaited<ReturnType<typeof runCli>>;

  before(async () => {
    ({ dir, cleanup } = await tempDir('segment'));
    inputs = path.join(dir, 'in');
    out = path.join(dir, 'out');
    await mkdir(path.join(inputs, 'city'), { recursive: true });
    const model = await loadModel({ arch: 'lraspp_mobilenet_v3_large', numClasses: 19 });
    try {
      for (const image of GOOD) {
        const bytes = await image.make(image.width, image.height);
        await writeFile(path.join(inputs, image.rel), bytes);
        expected.set(image.stem, (await segmentImage(model.engine, bytes, { size: 1024, maxPixels: 1e8 })).classMap);
      }
    } finally {
      model.engine.dispose();
    }
    // A PNG cut off in the middle of its pixel data.
    const whole = await rampImage(40, 30).png().toBuffer();
    await writeFile(path.join(inputs, 'broken.png'), whole.subarray(0, Math.floor(whole.length / 2)));
    firstRun = await runCli(['segment', '--format', ALL_FORMATS, '--out', out, inputs]);
  });
  after(() => cleanup());

  it('reports the corrupt file on one line, exits 1 and still writes the good images', async () => {
    assert.equal(firstRun.code, 1, firstRun.stderr);
    const problemLines = firstRun.stderr.split('\n').filter((line) => line.includes('broken.png'));
    assert.equal(problemLines.length, 1);
    assert.match(problemLines[0], /^cityseg: .*broken\.png: image is truncated or corrupt/);
    assert.match(firstRun.stderr, /processed 2, skipped 0, failed 1 in \d+\.\d\d s \(\d+\.\d\d images\/s\)/);
    assert.match(firstRun.stderr, /untrained/);
    // stderr is a pipe: no progress bar, no cursor control.
    assert.ok(!firstRun.stderr.includes('\x1b['), 'escape sequences on a pipe');
    assert.equal(firstRun.stdout, '');
    const written = (await readdir(out, { recursive: true })).map(String).sort();
    const wanted = GOOD.flatMap((image) => SUFFIXES.map((suffix) => `${image.stem}${suffix}`));
    assert.deepEqual(written.filter((f) => f.includes('.')), wanted.sort());
  });

  it('writes trainIds equal to the pipeline, at the exact input size', async () => {
    for (const image of GOOD) {
      const png = decodePng(await readFile(path.join(out, `${image.stem}_trainIds.png`)));
      assert.equal(png.channels, 1);
      assert.equal(png.depth, 8);
      assert.deepEqual([png.width, png.height], [image.width, image.height]);
      assert.deepEqual(Buffer.from(png.data as Uint8Array), Buffer.from(expected.get(image.stem)!.data));
    }
  });

  it('maps every pixel to its Cityscapes label id, colour and palette entry', async () => {
    for (const image of GOOD) {
      const trainIds = expected.get(image.stem)!.data;
      // Several classes, so a wrong table would show.
      assert.ok(histogram(trainIds).size >= 3, `only ${histogram(trainIds).size} classes in ${image.stem}`);
      const labelIds = decodePng(await readFile(path.join(out, `${image.stem}_labelIds.png`)));
      const color = await readPixels(path.join(out, `${image.stem}_color.png`));
      const palette = decodePng(await readFile(path.join(out, `${image.stem}_colorPalette.png`)));
      assert.deepEqual([color.width, color.height, color.channels], [image.width, image.height, 3]);
      assert.deepEqual([labelIds.width, labelIds.height, palette.width, palette.height], [image.width, image.height, image.width, image.height]);
      for (let p = 0; p < trainIds.length; p++) {
        const cls = cityscapes.classes[trainIds[p]];
        assert.equal(labelIds.data[p], cls.id, `label id at pixel ${p}`);
        assert.deepEqual([...color.data.subarray(p * 3, p * 3 + 3)], cls.color, `colour at pixel ${p}`);
        assert.equal(palette.data[p], trainIds[p], `palette index at pixel ${p}`);
      }
      assert.deepEqual(palette.palette?.slice(0, 19), cityscapes.classes.map((c) => c.color));
      const overlay = await readPixels(path.join(out, `${image.stem}_overlay.jpg`));
      assert.deepEqual([overlay.width, overlay.height], [image.width, image.height]);
    }
  });

  it('writes the API JSON body with the pixel count of each class present', async () => {
    for (const image of GOOD) {
      const body = JSON.parse(await readFile(path.join(out, `${image.stem}.json`), 'utf8'));
      assert.equal(body.model, 'lraspp_mobilenet_v3_large');
      assert.deepEqual([body.width, body.height], [image.width, image.height]);
      assert.deepEqual(body.inferenceSize, { width: image.width, height: image.height });
      const counts = histogram(expected.get(image.stem)!.data);
      assert.deepEqual(
        body.classes.map((c: { index: number; pixels: number; fraction: number }) => [c.index, c.pixels, c.fraction]),
        [...counts].sort((a, b) => a[0] - b[0]).map(([index, pixels]) => [index, pixels, pixels / (image.width * image.height)]),
      );
      assert.equal(body.classes[0].rle, undefined);
    }
  });

  it('skips images whose outputs exist, writes only the missing ones, and rewrites all with --overwrite', async () => {
    const streetColor = path.join(out, 'street_color.png');
    const frameColor = path.join(out, 'city', 'frame_color.png');
    const frameLabelIds = path.join(out, 'city', 'frame_labelIds.png');
    const mtime = async (file: string) => (await stat(file)).mtimeMs;
    const [streetBefore, labelIdsBefore] = [await mtime(streetColor), await mtime(frameLabelIds)];
    await rm(frameColor);

    const rerun = await runCli(['segment', '--format', 'labelIds,color', '--out', out, inputs]);
    assert.equal(rerun.code, 1, rerun.stderr);
    assert.match(rerun.stderr, /processed 1, skipped 1, failed 1/);
    assert.equal(await mtime(streetColor), streetBefore);
    assert.equal(await mtime(frameLabelIds), labelIdsBefore);
    assert.deepEqual((await readPixels(frameColor)).width, 64);

    const overwrite = await runCli(['segment', '--format', 'color', '--overwrite', '--quiet', '--out', out, path.join(inputs, 'street.png')]);
    assert.equal(overwrite.code, 0, overwrite.stderr);
    assert.doesNotMatch(overwrite.stderr, /processed/);
    assert.ok((await mtime(streetColor)) > streetBefore);
  });

  it('takes globs, naming their images by base name', async () => {
    const globOut = path.join(dir, 'glob');
    const run = await runCli(['segment', '--format', 'trainIds', '--out', globOut, path.join(inputs, '**', '*.jpg')]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /processed 1, skipped 0, failed 0/);
    assert.deepEqual(await readdir(globOut), ['frame_trainIds.png']);
  });

  it('adds RLE masks to the JSON with --rle, and refuses --rle without json (exit 2)', async () => {
    const rleOut = path.join(dir, 'rle');
    const run = await runCli(['segment', '--format', 'json', '--rle', '--out', rleOut, path.join(inputs, 'street.png')]);
    assert.equal(run.code, 0, run.stderr);
    const body = JSON.parse(await readFile(path.join(rleOut, 'street.json'), 'utf8'));
    for (const c of body.classes) assert.deepEqual(c.rle.size, [61, 97]);

    const refused = await runCli(['segment', '--format', 'color', '--rle', '--out', rleOut, path.join(inputs, 'street.png')]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--rle/);
  });
});
