/** The parity CLI contract (`cityseg logits`) and `cityseg export-onnx`, run as a user runs them. */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { readNpy } from '../model/npy.js';
import { normalizeImageNet } from '../segmentation/preprocess.js';
import { fixture, runCli, tempDir } from './cli-helpers.js';

const parity = (name: string) => fixture('parity', name);

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

describe('cityseg logits and export-onnx', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await tempDir('cityseg-logits-')));
  after(() => cleanup());

  test('logits writes torch-layout float32 .npy equal to torchvision', async () => {
    const out = path.join(dir, 'small.npy');
    const run = await runCli(['logits', '--arch', 'lraspp_mobilenet_v3_small', '--num-classes', '19', '--weights', parity('lraspp_mobilenet_v3_small.pth'), '--out', out, parity('street_97x131.png')]);
    assert.equal(run.code, 0, run.stderr);
    const actual = readNpy(await readFile(out));
    const expected = readNpy(await readFile(parity('lraspp_mobilenet_v3_small__street_97x131.npy')));
    assert.deepEqual(actual.shape, [1, 19, 97, 131]);
    assert.ok(maxAbsDiff(actual.data, expected.data) <= 1e-3);
  });

  test('logits for a classifier is [1, 1000]; without weights it warns that the model is untrained', async () => {
    const out = path.join(dir, 'cls.npy');
    const run = await runCli(['logits', '--arch', 'mobilenet_v3_small', '--out', out, parity('street_97x131.png')]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /untrained/);
    assert.deepEqual(readNpy(await readFile(out)).shape, [1, 1000]);
  });

  test('export-onnx writes a torchvision-interface graph that ONNX Runtime runs to torchvision\'s numbers', async () => {
    const out = path.join(dir, 'lraspp.onnx');
    const run = await runCli(['export-onnx', '--arch', 'lraspp_mobilenet_v3_large', '--num-classes', '19', '--weights', parity('lraspp_mobilenet_v3_large.pth'), '--out', out]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /3221198 parameters, input "input", output "out"/);
    const { data, info } = await sharp(parity('street_64x96.png')).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const nhwc = normalizeImageNet({ data, width: info.width, height: info.height });
    const nchw = new Float32Array(nhwc.data.length);
    const plane = info.width * info.height;
    for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) nchw[c * plane + p] = nhwc.data[p * 3 + c];
    const session = await ort.InferenceSession.create(out);
    try {
      const result = await session.run({ input: new ort.Tensor('float32', nchw, [1, 3, info.height, info.width]) });
      const expected = readNpy(await readFile(parity('lraspp_mobilenet_v3_large__street_64x96.npy')));
      assert.deepEqual(result.out.dims, [1, 19, 64, 96]);
      assert.ok(maxAbsDiff(result.out.data as Float32Array, expected.data) <= 1e-3);
    } finally {
      await session.release();
    }
  });

  test('bad weights: one clear line and exit 3, no stack trace', async () => {
    const bad = path.join(dir, 'truncated.pth');
    await writeFile(bad, (await readFile(parity('lraspp_mobilenet_v3_small.pth'))).subarray(0, 5000));
    const wrongArch = await runCli(['logits', '--arch', 'lraspp_mobilenet_v3_large', '--num-classes', '19', '--weights', parity('lraspp_mobilenet_v3_small.pth'), '--out', path.join(dir, 'x.npy'), parity('street_64x96.png')]);
    const truncated = await runCli(['export-onnx', '--weights', bad, '--out', path.join(dir, 'x.onnx')]);
    for (const run of [wrongArch, truncated]) {
      assert.equal(run.code, 3, run.stderr);
      assert.match(run.stderr, /^cityseg: /);
      assert.doesNotMatch(run.stderr, /\n\s+at /);
    }
    assert.match(wrongArch.stderr, /holds lraspp_mobilenet_v3_small weights, but the architecture given is lraspp_mobilenet_v3_large/);
    assert.match(truncated.stderr, /truncated\.pth/);
  });
});
