import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { exportOnnx } from '../model/export-onnx.js';
import { DEFAULT_SEED } from '../model/seeded-init.js';
import { decodeModel, nhwcToNchw, seededInput } from './onnx-test-networks.js';

const parityDir = fileURLToPath(new URL('./fixtures/parity/', import.meta.url));

function metadataOf(file: string): Record<string, string> {
  return Object.fromEntries((decodeModel(readFileSync(file)).metadataProps ?? []).map((p) => [p.key, p.value]));
}

describe('exportOnnx', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'cityseg-onnx-export-'));
  after(() => rmSync(work, { recursive: true, force: true }));

  test('writes a segmentation model a fresh session loads, with torchvision names and dynamic shapes', async () => {
    const out = path.join(work, 'lraspp.onnx');
    const result = await exportOnnx({ arch: 'lraspp_mobilenet_v3_small', numClasses: 19, out });
    assert.equal(result.bytes, readFileSync(out).byteLength);
    assert.equal(result.opset, 17);
    assert.equal(result.parameterCount, 1_077_646);
    const session = await ort.InferenceSession.create(out, { intraOpNumThreads: 1 });
    try {
      assert.deepEqual(session.inputNames, ['input']);
      assert.deepEqual(session.outputNames, ['out']);
      assert.deepEqual(session.inputMetadata[0], { name: 'input', isTensor: true, type: 'float32', shape: ['batch', 3, 'height', 'width'] });
      assert.deepEqual(session.outputMetadata[0], { name: 'out', isTensor: true, type: 'float32', shape: ['batch', 19, 'height', 'width'] });
      // Any batch and size: the final upsample restores the input's own height and width.
      for (const [n, h, w] of [[2, 37, 53], [1, 64, 96]]) {
        const input = nhwcToNchw(seededInput([n, h, w, 3], h));
        const { out: logits } = await session.run({ input: new ort.Tensor('float32', input.data, input.shape) });
        assert.deepEqual(logits.dims, [n, 19, h, w]);
      }
    } finally {
      await session.release();
    }
    assert.deepEqual(metadataOf(out), {
      arch: 'lraspp_mobilenet_v3_small',
      task: 'segmentation',
      num_classes: '19',
      layout: 'torchvision',
      weights_source: `seeded-init:${DEFAULT_SEED}`,
    });
  });

  test('writes a classifier with [N, 1000] output and records the checkpoint it came from', async () => {
    const out = path.join(work, 'mnv3.onnx');
    const weights = parityDir + 'mobilenet_v3_small.safetensors';
    const result = await exportOnnx({ arch: 'mobilenet_v3_small', numClasses: 1000, weights, out, opset: 21 });
    assert.equal(result.opset, 21);
    assert.match(result.weights.sha256 ?? '', /^[0-9a-f]{64}$/);
    const session = await ort.InferenceSession.create(out, { intraOpNumThreads: 1 });
    try {
      assert.deepEqual(session.outputMetadata[0], { name: 'out', isTensor: true, type: 'float32', shape: ['batch', 1000] });
      const input = nhwcToNchw(seededInput([3, 50, 70, 3], 9));
      const { out: logits } = await session.run({ input: new ort.Tensor('float32', input.data, input.shape) });
      assert.deepEqual(logits.dims, [3, 1000]);
    } finally {
      await session.release();
    }
    const meta = metadataOf(out);
    assert.equal(meta.weights_source, result.weights.source);
    assert.equal(meta.weights_sha256, result.weights.sha256);
    assert.equal(decodeModel(readFileSync(out)).opsetImport?.[0].version, 21);
  });
});
