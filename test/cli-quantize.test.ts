/** `cityseg quantize` and `--precision int8` through the compiled CLI: calibration on a tiny folder, then int8 masks. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { fixture, runCli, tempDir } from './cli-helpers.js';
import { SHARED_REAL, SHARED_REAL_SKIP } from './shared-real.js';

const REAL = SHARED_REAL;
const FRAME = path.join(REAL, 'frankfurt_000000_000294_leftImg8bit.png');
const model = ['--arch', 'lraspp_mobilenet_v3_small', '--weights', fixture('parity', 'lraspp_mobilenet_v3_small.pth')];

async function labelIds(file: string): Promise<Buffer> {
  return sharp(file).extractChannel(0).raw().toBuffer();
}

describe('cityseg quantize', { skip: SHARED_REAL_SKIP }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let calibration: string;
  let artefact: string;

  before(async () => {
    ({ dir, cleanup } = await tempDir('cli-quantize'));
    calibration = path.join(dir, 'calibration');
    await mkdir(calibration);
    await copyFile(path.join(REAL, 'demo.png'), path.join(calibration, 'demo.png'));
    await writeFile(path.join(calibration, 'broken.png'), 'not a png');
    artefact = path.join(dir, 'small.int8.json');
  });
  after(() => cleanup());

  it('calibrates on the readable images, reports the bad one and writes the artefact', async () => {
    const run = await runCli(['quantize', ...model, '--calibrate', calibration, '--size', '256', '--out', artefact]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /broken\.png: /);
    assert.match(run.stderr, /quantize: 2\/2 .*demo\.png/);
    assert.match(run.stderr, /quantize: 1 images \(1 skipped\), \d+ tensors, percentile:99\.99 → /);
    const written = JSON.parse(await readFile(artefact, 'utf8'));
    assert.equal(written.format, 'cityseg-int8-quantization');
    assert.equal(written.arch, 'lraspp_mobilenet_v3_small');
    assert.equal(written.numClasses, 19);
    assert.deepEqual(written.calibration, { method: 'percentile:99.99', images: 1, inferenceSize: 256 });
    assert.equal(written.weightsSource, model[3]);
  });

  it('segment --precision int8 writes masks that follow fp32 on a frame it was not calibrated on', async () => {
    const fp32 = await runCli(['segment', ...model, '--size', '256', '--format', 'labelIds', '--quiet', '--out', path.join(dir, 'fp32'), FRAME]);
    assert.equal(fp32.code, 0, fp32.stderr);
    const int8 = await runCli(['segment', ...model, '--size', '256', '--format', 'labelIds', '--quiet', '--precision', 'int8', '--quantization', artefact, '--out', path.join(dir, 'int8'), FRAME]);
    assert.equal(int8.code, 0, int8.stderr);
    const a = await labelIds(path.join(dir, 'fp32', 'frankfurt_000000_000294_leftImg8bit_labelIds.png'));
    const b = await labelIds(path.join(dir, 'int8', 'frankfurt_000000_000294_leftImg8bit_labelIds.png'));
    assert.ok(new Set(a).size >= 3, 'the fp32 mask has several classes');
    const agreement = a.reduce((n, v, i) => n + (v === b[i] ? 1 : 0), 0) / a.length;
    // Measured 87.3% on these fixture weights (random BatchNorm, a head scaled for O(1) logits: sensitive ones).
    assert.ok(agreement > 0.8, `agreement ${(100 * agreement).toFixed(1)}%`);
  });

  it('refuses the artefact for other weights, int8 without one, and int8 on tfjs (exit 2)', async () => {
    const frame = ['--quiet', '--out', path.join(dir, 'refused'), FRAME];
    const other = await runCli(['segment', '--arch', 'lraspp_mobilenet_v3_small', '--weights', 'none', '--precision', 'int8', '--quantization', artefact, ...frame]);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /small\.int8\.json was calibrated on other weights/);
    const missing = await runCli(['segment', ...model, ...frame], { CITYSEG_PRECISION: 'int8' });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /precision int8 needs a quantisation file/);
    const tfjs = await runCli(['segment', ...model, '--engine', 'tfjs', '--precision', 'int8', '--quantization', artefact, ...frame]);
    assert.equal(tfjs.code, 2);
    assert.match(tfjs.stderr, /precision int8 runs on the onnx engine only/);
  });

  it('a folder without images, or too many --max-images, is a usage error', async () => {
    const empty = path.join(dir, 'empty');
    await mkdir(empty);
    const none = await runCli(['quantize', ...model, '--calibrate', empty, '--out', path.join(dir, 'x.json')]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /directory holds no image/);
    assert.match(none.stderr, /no calibration images in /);
    const many = await runCli(['quantize', ...model, '--calibrate', calibration, '--max-images', '1001', '--out', path.join(dir, 'x.json')]);
    assert.equal(many.code, 2);
    assert.match(many.stderr, /at most 1000/);
  });
});
