/**
 * ONNX Runtime equals torchvision on the golden checkpoints, images and logits of scripts/make_fixtures.py, with
 * the tolerance of the tfjs parity test: the exported file (torchvision layout) and the OnnxEngine behind loadModel.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { computeLogits } from '../cli/commands/logits.js';
import type { LoadedModel } from '../model/loaded-model.js';
import { loadModel } from '../model/load-model.js';
import { exportOnnx } from '../model/export-onnx.js';
import { readNpy } from '../model/npy.js';
import { decodeImage } from '../segmentation/decode.js';
import { normalizeImageNet } from '../segmentation/preprocess.js';
import { nhwcToNchw } from './onnx-test-networks.js';
import { assertMatchesTorch, PARITY_DIR, parityManifest } from './parity-fixtures.js';

const dir = PARITY_DIR;
const manifest = parityManifest;

async function nchwInput(image: string): Promise<ort.Tensor> {
  const rgb = await decodeImage(await readFile(dir + image), { maxPixels: 1 << 24 });
  const nchw = nhwcToNchw(normalizeImageNet(rgb));
  return new ort.Tensor('float32', nchw.data, nchw.shape);
}

describe('ONNX export (torchvision layout) against torchvision 0.14 (golden fixtures)', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'cityseg-onnx-parity-'));
  after(() => rmSync(work, { recursive: true, force: true }));

  for (const entry of manifest.models) {
    test(`${entry.arch} (${entry.numClasses} classes, ${entry.weights})`, async (t) => {
      const out = path.join(work, `${entry.arch}.onnx`);
      await exportOnnx({ arch: entry.arch, numClasses: entry.numClasses, weights: dir + entry.weights, out });
      const session = await ort.InferenceSession.create(out, { intraOpNumThreads: 1 });
      try {
        for (const c of entry.cases) {
          const expected = readNpy(await readFile(dir + c.expected));
          const feed = await nchwInput(c.image);
          const result = await session.run({ input: feed });
          assertMatchesTorch(t, c.image, { data: result.out.data as Float32Array, shape: [...result.out.dims] }, expected);
        }
      } finally {
        await session.release();
      }
    });
  }
});

describe('OnnxEngine via loadModel against torchvision 0.14 (golden fixtures)', () => {
  const loaded: LoadedModel[] = [];
  after(() => loaded.forEach((m) => m.engine.dispose()));

  for (const entry of manifest.models) {
    test(`${entry.arch} (${entry.numClasses} classes, ${entry.weights})`, async (t) => {
      const model = await loadModel({ arch: entry.arch, numClasses: entry.numClasses, weights: dir + entry.weights, engine: 'onnx' });
      loaded.push(model);
      assert.equal(model.engineName, 'onnx');
      for (const c of entry.cases) {
        // computeLogits: decode, normalise, engine (NHWC, 1/8 logits), upsample to the image as torchvision does.
        const actual = await computeLogits(model, await readFile(dir + c.image));
        assertMatchesTorch(t, c.image, actual, readNpy(await readFile(dir + c.expected)));
      }
    });
  }

  test("engine 'auto' picks ONNX Runtime where onnxruntime-node loads", async () => {
    const model = await loadModel({ arch: 'lraspp_mobilenet_v3_small', numClasses: 19 });
    loaded.push(model);
    assert.equal(model.engineName, 'onnx');
    assert.equal(model.engine.backend, 'onnxruntime-cpu');
  });
});
