/** `cityseg segment`, `eval --cityscapes` and `logits` with --mode, --crop, --stride, --scales, --flip. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fixture, runCli, tempDir } from './cli-helpers.js';
import { SHARED_REAL, SHARED_REAL_SKIP } from './shared-real.js';

const REAL = SHARED_REAL;
const FRAME = 'frankfurt_000000_000294';
const weights = fixture('parity', 'lraspp_mobilenet_v3_small.pth');
const model = ['--arch', 'lraspp_mobilenet_v3_small', '--weights', weights];
const slide = ['--mode', 'slide', '--crop', '64x128', '--stride', '48x96', '--flip'];

describe('cityseg inference modes', { skip: SHARED_REAL_SKIP }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let root: string;

  before(async () => {
    ({ dir, cleanup } = await tempDir('cli-modes'));
    // A one-frame Cityscapes tree from the real frame in ../shared/real (256x128), in the temporary folder.
    root = path.join(dir, 'cityscapes');
    await mkdir(path.join(root, 'leftImg8bit', 'val', 'frankfurt'), { recursive: true });
    await mkdir(path.join(root, 'gtFine', 'val', 'frankfurt'), { recursive: true });
    await copyFile(path.join(REAL, `${FRAME}_leftImg8bit.png`), path.join(root, 'leftImg8bit', 'val', 'frankfurt', `${FRAME}_leftImg8bit.png`));
    for (const kind of ['labelIds', 'instanceIds']) {
      await copyFile(path.join(REAL, `${FRAME}_gtFine_${kind}.png`), path.join(root, 'gtFine', 'val', 'frankfurt', `${FRAME}_gtFine_${kind}.png`));
    }
  });
  after(() => cleanup());

  it('segment --format json reports the mode, the forward passes and each stage’s time', async () => {
    const out = path.join(dir, 'json');
    const run = await runCli(['segment', ...model, ...slide, '--scales', '0.5,1', '--format', 'json', '--quiet', '--out', out, path.join(REAL, `${FRAME}_leftImg8bit.png`)]);
    assert.equal(run.code, 0, run.stderr);
    const body = JSON.parse(await readFile(path.join(out, `${FRAME}_leftImg8bit.json`), 'utf8'));
    // 0.5 → 128x64: 1x1 windows; 1 → 256x128: (128-64+47)//48+1 = 3 rows x (256-128+95)//96+1 = 3 columns; flipped too.
    assert.deepEqual(body.inference, { mode: 'slide', crop: { height: 64, width: 128 }, stride: { height: 48, width: 96 }, scales: [0.5, 1], flip: true, forwardPasses: 2 * (1 + 9) });
    assert.deepEqual([body.width, body.height], [256, 128]);
    assert.deepEqual(Object.keys(body.timings), ['decodeMs', 'preprocessMs', 'inferenceMs', 'postprocessMs']);
    assert.ok(body.timings.inferenceMs > 0);
  });

  it('eval --cityscapes in a mode scores exactly what segment in that mode writes', async () => {
    const preds = path.join(dir, 'preds');
    const inMemory = await runCli(['eval', '--cityscapes', root, ...model, ...slide, '--json', '--quiet']);
    assert.equal(inMemory.code, 0, inMemory.stderr);
    const segmented = await runCli(['segment', ...model, ...slide, '--format', 'labelIds', '--quiet', '--out', preds, path.join(root, 'leftImg8bit', 'val')]);
    assert.equal(segmented.code, 0, segmented.stderr);
    const fromFiles = await runCli(['eval', '--pred', preds, '--gt', path.join(root, 'gtFine', 'val'), '--json']);
    assert.equal(fromFiles.code, 0, fromFiles.stderr);
    const result = JSON.parse(inMemory.stdout);
    assert.deepEqual(result, JSON.parse(fromFiles.stdout));
    assert.equal(result.nImages, 1);
    assert.equal(result.confusion.flat().reduce((sum: number, n: number) => sum + n, 0) > 0, true);
  });

  const usage: [string, string[], RegExp][] = [
    ['a zero stride', ['--mode', 'slide', '--stride', '0x96'], /stride must be positive whole pixels, got 0x96/],
    ['a stride larger than the crop', ['--mode', 'slide', '--crop', '64x64', '--stride', '64x65'], /stride 64x65 is larger than the crop 64x64/],
    ['a crop that is not HxW', ['--crop', '64'], /crop must be HxW \(e\.g\. 512x1024\), got '64'/],
    ['a scale that is not a number', ['--scales', '0.5,x'], /scales must be a comma-separated list of numbers/],
    ['an unknown mode', ['--mode', 'tile'], /argument 'tile' is invalid. Allowed choices are whole, slide/],
  ];
  for (const [name, flags, message] of usage) {
    it(`segment refuses ${name} before loading the model (exit 2)`, async () => {
      const run = await runCli(['segment', ...model, ...flags, '--out', path.join(dir, 'never'), path.join(REAL, `${FRAME}_leftImg8bit.png`)]);
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, message);
      assert.doesNotMatch(run.stderr, /untrained/);
    });
  }

  it('an image needing more forward passes than the cap is reported and skipped (exit 1); a higher cap runs it', async () => {
    const tight = ['--mode', 'slide', '--crop', '16x16', '--stride', '16x16', '--format', 'labelIds', '--quiet', '--out', path.join(dir, 'cap')];
    const image = path.join(REAL, `${FRAME}_leftImg8bit.png`);
    const refused = await runCli(['segment', ...model, ...tight, image]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /on a 256x128 image needs 128 forward passes, more than the cap of 64/);
    const raised = await runCli(['segment', ...model, ...tight, '--max-forward-passes', '128', image]);
    assert.equal(raised.code, 0, raised.stderr);
  });

  it('logits refuses augmentation of a classifier (exit 2)', async () => {
    const run = await runCli(['logits', '--arch', 'mobilenet_v3_small', '--flip', '--out', path.join(dir, 'c.npy'), path.join(REAL, `${FRAME}_leftImg8bit.png`)]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /apply to segmentation models, not the mobilenet_v3_small classifier/);
  });
});
