/**
 * The exported ONNX file (torchvision layout) run by onnxruntime equals torchvision's own outputs: the golden
 * checkpoints, images and logits of scripts/make_fixtures.py, with the tolerance of the tfjs parity test.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import type { ArchName } from '../model/loaded-model.js';
import { exportOnnx } from '../model/export-onnx.js';
import { readNpy } from '../model/npy.js';
import { decodeImage } from '../segmentation/decode.js';
import { normalizeImageNet } from '../segmentation/preprocess.js';
import { agreement, argmaxAlong, maxAbsDiff, nhwcToNchw } from './onnx-test-networks.js';

const dir = fileURLToPath(new URL('./fixtures/parity/', import.meta.url));

interface Manifest {
  tolerance: { maxAbsDiff: number; minArgmaxAgreement: number };
  models: { arch: ArchName; numClasses: number; weights: string; cases: { image: string; expected: string }[] }[];
}

const manifest = JSON.parse(readFileSync(dir + 'manifest.json', 'utf8')) as Manifest;

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
          const actual = { data: result.out.data as Float32Array, shape: [...result.out.dims] };
          assert.deepEqual(actual.shape, expected.shape, `${c.image}: output shape`);
          const diff = maxAbsDiff(actual.data, expected.data);
          // Channels are axis 1 in both layouts torchvision returns ([N, C, H, W] and [N, C]).
          const same = agreement(argmaxAlong(actual, 1), argmaxAlong(expected, 1));
          t.diagnostic(`${c.image}: max abs diff ${diff.toExponential(2)}, argmax agreement ${(same * 100).toFixed(3)}%`);
          assert.ok(diff <= manifest.tolerance.maxAbsDiff, `${c.image}: max abs diff ${diff} > ${manifest.tolerance.maxAbsDiff}`);
          assert.ok(same >= manifest.tolerance.minArgmaxAgreement, `${c.image}: argmax agreement ${same}`);
        }
      } finally {
        await session.release();
      }
    });
  }
});
