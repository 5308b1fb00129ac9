/**
 * A fastseg checkpoint through every surface of the compiled CLI: `weights inspect` names it, `logits` equals
 * fastseg's forward at the input's size, `export-onnx` writes a graph ONNX Runtime runs to the same logits, and
 * `quantize` + `segment --precision int8` serve it in int8.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { readNpy } from '../model/npy.js';
import { decodeImage } from '../segmentation/decode.js';
import { normalizeImageNet } from '../segmentation/preprocess.js';
import { readPixels, runCli, tempDir } from './cli-helpers.js';
import { assertMatchesFastseg, FASTSEG_DIR, fastsegManifest } from './fastseg-fixtures.js';
import { nhwcToNchw } from './onnx-test-networks.js';

const small = fastsegManifest.models.find((m) => m.variant === 'mobilev3small-lraspp-f64')!;
const large = fastsegManifest.models.find((m) => m.variant === 'mobilev3large-lraspp-f128')!;
const weights = (entry: typeof small) => FASTSEG_DIR + entry.weights;

describe('a fastseg checkpoint through the compiled CLI', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await tempDir('cityseg-fastseg-cli-')));
  after(() => cleanup());

  it('weights inspect names family, size, F and classes', async () => {
    const run = await runCli(['weights', 'inspect', weights(large)]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /fits\s+fastseg_mobilev3_large F=128, 19 classes \(segmentation\)/);
    assert.match(run.stdout, /parameters 3,284,547/);
    assert.match(run.stdout, /"module\." removed from every key/);
  });

  for (const entry of [small, large]) {
    it(`logits (${entry.variant}): fastseg's logits at the input's size`, async (t) => {
      const c = entry.cases[1];
      const out = path.join(dir, `${entry.variant}.npy`);
      const run = await runCli(['logits', '--weights', weights(entry), '--engine', 'onnx', '--out', out, FASTSEG_DIR + c.image]);
      assert.equal(run.code, 0, run.stderr);
      await assertMatchesFastseg(t, `cli logits ${entry.variant} ${c.image}`, readNpy(await readFile(out)), c);
    });
  }

  it('export-onnx: torchvision layout, logits at the input size equal to fastseg\'s', async (t) => {
    const out = path.join(dir, 'fastseg.onnx');
    const run = await runCli(['export-onnx', '--weights', weights(small), '--out', out]);
    assert.equal(run.code, 0, run.stderr);
    const session = await ort.InferenceSession.create(out, { intraOpNumThreads: 1 });
    try {
      for (const c of [small.cases[0], small.cases[2]]) {
        const rgb = await decodeImage(await readFile(FASTSEG_DIR + c.image), { maxPixels: 1 << 24 });
        const nchw = nhwcToNchw(normalizeImageNet(rgb));
        const result = await session.run({ input: new ort.Tensor('float32', nchw.data, nchw.shape) });
        const logits = result.out;
        await assertMatchesFastseg(t, `onnx export ${c.image}`, { data: logits.data as Float32Array, shape: [...logits.dims] }, c);
      }
    } finally {
      await session.release();
    }
  });

  it('quantize, then segment --precision int8: a mask at the image\'s size', async () => {
    const q = path.join(dir, 'f64.int8.json');
    const image = FASTSEG_DIR + small.cases[1].image;
    const calibrated = await runCli(['quantize', '--calibrate', image, '--weights', weights(small), '--out', q, '--quiet']);
    assert.equal(calibrated.code, 0, calibrated.stderr);
    const out = path.join(dir, 'int8');
    const run = await runCli(['segment', '--weights', weights(small), '--precision', 'int8', '--quantization', q, '--format', 'trainIds', '--out', out, image]);
    assert.equal(run.code, 0, run.stderr);
    const mask = await readPixels(path.join(out, 'street_401x433_trainIds.png'));
    assert.deepEqual([mask.width, mask.height], [433, 401]);
    assert.ok([...mask.data].every((v) => v < 19));
  });
});
