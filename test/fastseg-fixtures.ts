/** The golden fastseg fixtures (scripts/make_fastseg_fixtures.py) and the one way every test compares with them. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import type { ArchName } from '../model/loaded-model.js';
import { readNpy } from '../model/npy.js';
import { agreement, argmaxAlong } from './onnx-test-networks.js';

export const FASTSEG_DIR = fileURLToPath(new URL('./fixtures/fastseg/', import.meta.url));

export interface FastsegManifest {
  tolerance: { maxAbsDiff: number; minArgmaxAgreement: number };
  sampleStep: number;
  models: {
    variant: string;
    arch: ArchName;
    filters: number;
    numClasses: number;
    weights: string;
    dtype: 'float16' | 'float32';
    parameterCount: number;
    cases: { image: string; height: number; width: number; argmax: string; sample: string }[];
  }[];
}

export const fastsegManifest = JSON.parse(await readFile(FASTSEG_DIR + 'manifest.json', 'utf8')) as FastsegManifest;

/** The script's sample grid along one axis: 0, step, 2 step, … and the last index. */
export function sampleIndices(length: number, step: number): number[] {
  const indices = [];
  for (let i = 0; i < length; i += step) indices.push(i);
  if ((length - 1) % step !== 0) indices.push(length - 1);
  return indices;
}

/** `logits` [1, C, H, W] against the fixture's sampled logits and full argmax, within the manifest's tolerance. */
export async function assertMatchesFastseg(t: { diagnostic(message: string): void }, label: string, logits: { data: Float32Array; shape: number[] }, c: FastsegManifest['models'][number]['cases'][number]): Promise<void> {
  const { tolerance, sampleStep } = fastsegManifest;
  const [, classes, height, width] = logits.shape;
  assert.deepEqual(logits.shape.slice(2), [c.height, c.width], `${label}: output size`);
  const sample = readNpy(await readFile(FASTSEG_DIR + c.sample));
  const rows = sampleIndices(height, sampleStep);
  const cols = sampleIndices(width, sampleStep);
  assert.deepEqual(sample.shape, [classes, rows.length, cols.length], `${label}: sample shape`);
  let diff = 0;
  for (let k = 0; k < classes; k++) {
    rows.forEach((r, i) => cols.forEach((col, j) => {
      const actual = logits.data[(k * height + r) * width + col];
      diff = Math.max(diff, Math.abs(actual - sample.data[(k * rows.length + i) * cols.length + j]));
    }));
  }
  const expected = readNpy(gunzipSync(await readFile(FASTSEG_DIR + c.argmax)));
  const same = agreement(argmaxAlong(logits, 1), Int32Array.from(expected.data));
  t.diagnostic(`${label}: max abs diff ${diff.toExponential(2)} over ${rows.length * cols.length * classes} logits, argmax agreement ${(same * 100).toFixed(3)}%`);
  assert.ok(diff <= tolerance.maxAbsDiff, `${label}: max abs diff ${diff} > ${tolerance.maxAbsDiff}`);
  assert.ok(same >= tolerance.minArgmaxAgreement, `${label}: argmax agreement ${same}`);
}
