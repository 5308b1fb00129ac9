import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { spawn } from 'node:child_process';
import { CLI_BIN, cliEnv, fixture, greyPng, rampImage, runCli, tempDir } from './cli-helpers.js';
import { startMirror } from './weights-mirror.js';

/** Label ids (not trainIds): 0 unlabeled (ignored), 7 road, 8 sidewalk, 24 person, 26 car. */
const [U, ROAD, SIDEWALK, PERSON, CAR] = [0, 7, 8, 24, 26];

/**
 * Two 4x2 images. Scored pixels (ground truth not unlabeled), ground truth → prediction:
 *   aachen: road→road ×2, road→sidewalk ×1, sidewalk→sidewalk ×3, car→car ×1 (the car on unlabeled is ignored)
 *   bochum: car→car ×1, car→road ×1, road→road ×2, sidewalk→sidewalk ×2 (road on unlabeled ignored)
 * road:     tp 4, fn 1 (→sidewalk), fp 1 (car→road)      IoU 4/6
 * sidewalk: tp 5, fn 0,             fp 1 (road→sidewalk) IoU 5/6
 * car:      tp 2, fn 1 (→road),     fp 0                 IoU 2/3
 * mIoU over the 3 classes that occur = (4/6 + 5/6 + 2/3) / 3 = 13/18; the other 16 classes are NaN (null).
 * Categories: flat (road+sidewalk) tp 10, fn 0, fp 1 → 10/11; vehicle tp 2, fn 1, fp 0 → 2/3.
 */
const GROUND_TRUTH = {
  aachen_000000_000019: [ROAD, ROAD, ROAD, SIDEWALK, SIDEWALK, SIDEWALK, CAR, U],
  bochum_000001_000123: [CAR, CAR, ROAD, ROAD, U, U, SIDEWALK, SIDEWALK],
};
const PREDICTION = {
  aachen_000000_000019: [ROAD, ROAD, SIDEWALK, SIDEWALK, SIDEWALK, SIDEWALK, CAR, CAR],
  bochum_000001_000123: [CAR, ROAD, ROAD, ROAD, ROAD, ROAD, SIDEWALK, SIDEWALK],
};

async function writeIds(file: string, ids: number[], width = 4, height = 2): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, await greyPng(Uint8Array.from(ids), width, height));
}

describe('cityseg eval --pred --gt', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let gt: string;
  let pred: string;

  before(async () => {
    ({ dir, cleanup } = await tempDir('eval'));
    gt = path.join(dir, 'gtFine', 'val');
    pred = path.join(dir, 'pred');
    for (const [frame, ids] of Object.entries(GROUND_TRUTH)) {
      await writeIds(path.join(gt, frame.split('_')[0], `${frame}_gtFine_labelIds.png`), ids);
      await writeIds(path.join(pred, `${frame}_leftImg8bit.png`), PREDICTION[frame as keyof typeof PREDICTION]);
    }
  });
  after(() => cleanup());

  it('prints the EvalResult as JSON with the hand-computed IoUs', async () => {
    const run = await runCli(['eval', '--pred', pred, '--gt', gt, '--json']);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout);
    assert.equal(result.nImages, 2);
    const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} vs ${expected}`);
    close(result.mIoU, 13 / 18, 'mIoU');
    close(result.classIoU.road, 4 / 6, 'road');
    close(result.classIoU.sidewalk, 5 / 6, 'sidewalk');
    close(result.classIoU.car, 2 / 3, 'car');
    assert.equal(Object.values(result.classIoU).filter((v) => v === null).length, 16);
    close(result.categoryIoU.flat, 10 / 11, 'flat');
    close(result.categoryIoU.vehicle, 2 / 3, 'vehicle');
    close(result.mCategoryIoU, (10 / 11 + 2 / 3) / 2, 'mCategoryIoU');
    assert.equal(result.iIoU, null);
    assert.equal(result.confusion[ROAD][SIDEWALK], 1);
    assert.equal(result.confusion[CAR][ROAD], 1);
  });

  it('prints the official per-class table by default', async () => {
    const run = await runCli(['eval', '--pred', pred, '--gt', gt, '--quiet']);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.split('\n');
    for (const expected of ['road          : 0.667      nan', 'sidewalk      : 0.833      nan', 'car           : 0.667      nan', 'wall          :   nan      nan', 'Score Average : 0.722      nan', 'flat          : 0.909      nan']) {
      assert.ok(lines.includes(expected), `missing line '${expected}' in\n${run.stdout}`);
    }
    assert.equal(run.stderr, '');
  });

  it('names the file on one line and exits 1 for a missing prediction or a size mismatch', async () => {
    const partial = path.join(dir, 'partial');
    await writeIds(path.join(partial, 'aachen_000000_000019_x.png'), PREDICTION.aachen_000000_000019);
    const small = path.join(dir, 'small');
    await writeIds(path.join(small, 'aachen_000000_000019_x.png'), PREDICTION.aachen_000000_000019);
    await writeIds(path.join(small, 'bochum_000001_000123_x.png'), [CAR, CAR, ROAD, ROAD], 2, 2);
    const [missing, mismatch] = await Promise.all([
      runCli(['eval', '--pred', partial, '--gt', gt, '--json']),
      runCli(['eval', '--pred', small, '--gt', gt, '--json']),
    ]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, '');
    assert.match(missing.stderr, /^cityseg: found no prediction for ground truth .*bochum_000001_000123_gtFine_labelIds\.png \(no file bochum_000001_000123\*\.png under .*partial\)\n$/);
    assert.equal(mismatch.code, 1);
    assert.match(mismatch.stderr, /^cityseg: .*small\/bochum_000001_000123_x\.png is 2x2 but its ground truth .* is 4x2\n$/);
  });
});

/** Two 64x128 Cityscapes frames with label and instance ids (road below, a car and a person, some unlabeled). */
async function fakeCityscapes(root: string): Promise<void> {
  const [height, width] = [64, 128];
  const frames = ['frankfurt_000000_000294', 'munster_000010_000019'];
  const street = await sharp(fixture('parity', 'street_64x96.png')).resize(width, height, { fit: 'fill' }).png().toBuffer();
  const images = [street, await rampImage(width, height).png().toBuffer()];
  for (const [n, frame] of frames.entries()) {
    const city = frame.split('_')[0];
    const labels = new Uint8Array(width * height);
    const instances = new Uint16Array(width * height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const p = y * width + x;
        const id = y < 20 ? 23 /* sky */ : y >= 48 ? ROAD : x < 30 + n * 10 ? 11 /* building */ : x < 70 ? CAR : x < 90 ? PERSON : U;
        labels[p] = id;
        // Instances: two cars split at x = 50, one person.
        instances[p] = id === CAR ? CAR * 1000 + (x < 50 ? 0 : 1) : id === PERSON ? PERSON * 1000 : id;
      }
    }
    await mkdir(path.join(root, 'leftImg8bit', 'val', city), { recursive: true });
    await mkdir(path.join(root, 'gtFine', 'val', city), { recursive: true });
    await writeFile(path.join(root, 'leftImg8bit', 'val', city, `${frame}_leftImg8bit.png`), images[n]);
    await writeFile(path.join(root, 'gtFine', 'val', city, `${frame}_gtFine_labelIds.png`), await greyPng(labels, width, height));
    await sharp(instances, { raw: { width, height, channels: 1 } })
      .toColourspace('grey16')
      .png()
      .toFile(path.join(root, 'gtFine', 'val', city, `${frame}_gtFine_instanceIds.png`));
  }
}

describe('cityseg eval --cityscapes', () => {
  const weights = fixture('parity', 'lraspp_mobilenet_v3_large.pth');
  let dir: string;
  let cleanup: () => Promise<void>;
  let root: string;

  before(async () => {
    ({ dir, cleanup } = await tempDir('eval-cs'));
    root = path.join(dir, 'cityscapes');
    await fakeCityscapes(root);
  });
  after(() => cleanup());

  it('scores the model in memory exactly as segment (default formats) followed by eval --pred scores it', async () => {
    const preds = path.join(dir, 'preds');
    const [inMemory, segmented] = await Promise.all([
      runCli(['eval', '--cityscapes', root, '--split', 'val', '--weights', weights, '--json']),
      runCli(['segment', '--weights', weights, '--out', preds, path.join(root, 'leftImg8bit', 'val')]),
    ]);
    assert.equal(inMemory.code, 0, inMemory.stderr);
    assert.equal(segmented.code, 0, segmented.stderr);
    // segment's defaults write two PNGs per frame; eval must pick the label ids, not refuse the pair.
    assert.deepEqual((await readdir(path.join(preds, 'frankfurt'))).sort(), ['frankfurt_000000_000294_leftImg8bit_color.png', 'frankfurt_000000_000294_leftImg8bit_labelIds.png']);
    const fromFiles = await runCli(['eval', '--pred', preds, '--gt', path.join(root, 'gtFine', 'val'), '--json']);
    assert.equal(fromFiles.code, 0, fromFiles.stderr);

    const result = JSON.parse(inMemory.stdout);
    assert.deepEqual(result, JSON.parse(fromFiles.stdout));
    assert.equal(result.nImages, 2);
    assert.notEqual(result.iIoU, null);
    const scored = result.confusion.flat().reduce((sum: number, n: number) => sum + n, 0);
    assert.equal(scored, 2 * 64 * 128);
    // The seeded test weights predict several classes, so the comparison covers more than one column.
    const predictedClasses = result.confusion[0].map((_: number, col: number) => result.confusion.some((row: number[]) => row[col] > 0)).filter(Boolean).length;
    assert.ok(predictedClasses >= 3, `only ${predictedClasses} predicted classes`);
  });

  it('prints the table after running; without --weights runs the untrained model, fetching nothing, as --help says; refuses a ground truth without its image (exit 1)', async () => {
    const table = await runCli(['eval', '--cityscapes', root, '--size', '64']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^Score Average : +[\d.]+ +[\d.]+$/m);
    assert.match(table.stderr, /untrained/);

    // With no --weights at all (not even CITYSEG_WEIGHTS=none) eval runs the untrained model and fetches nothing.
    const mirror = await startMirror({});
    try {
      const env = { ...cliEnv({ CITYSEG_WEIGHTS_MIRROR: mirror.url, CITYSEG_CACHE_DIR: path.join(dir, 'cache') }), CITYSEG_WEIGHTS: undefined };
      const bare = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
        const child = spawn(process.execPath, [CLI_BIN, 'eval', '--cityscapes', root, '--size', '64', '--quiet'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stderr }));
      });
      assert.equal(bare.code, 0, bare.stderr);
      assert.equal(bare.stderr, 'cityseg: warning: no --weights given: lraspp_mobilenet_v3_large is untrained (seeded-init:20190506), its outputs are meaningless; give trained weights with --weights FILE.pth (or a preset name); without internet set CITYSEG_WEIGHTS_MIRROR, or copy a cache filled by `cityseg weights fetch`\n');
      assert.deepEqual(mirror.requests, []);
    } finally {
      await mirror.close();
    }
    const help = await runCli(['eval', '--help']);
    assert.match(help.stdout.replace(/\s+/g, ' '), /Without --weights, --cityscapes runs the untrained seeded model and says so on stderr: its scores are near chance\. eval never fetches the default preset/);

    const orphanRoot = path.join(dir, 'orphan');
    await writeIds(path.join(orphanRoot, 'gtFine', 'val', 'ulm', 'ulm_000001_000002_gtFine_labelIds.png'), [ROAD, ROAD], 2, 1);
    await mkdir(path.join(orphanRoot, 'leftImg8bit', 'val'), { recursive: true });
    const orphan = await runCli(['eval', '--cityscapes', orphanRoot]);
    assert.equal(orphan.code, 1);
    assert.match(orphan.stderr, /^cityseg: ground truth .*ulm_000001_000002_gtFine_labelIds\.png has no camera image .*ulm_000001_000002_leftImg8bit\.png\n$/);
  });
});
