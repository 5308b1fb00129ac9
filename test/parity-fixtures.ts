/** The golden torchvision fixtures (scripts/make_fixtures.py) and the one way every parity test compares with them. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Float32Tensor } from '../model/engines/engine.js';
import type { ArchName } from '../model/loaded-model.js';
import { agreement, argmaxAlong, maxAbsDiff } from './onnx-test-networks.js';

export const PARITY_DIR = fileURLToPath(new URL('./fixtures/parity/', import.meta.url));

export interface ParityManifest {
  tolerance: { maxAbsDiff: number; minArgmaxAgreement: number };
  models: {
    arch: ArchName;
    task: 'segmentation' | 'classification';
    numClasses: number;
    weights: string;
    parameterCount: number;
    cases: { image: string; height: number; width: number; expected: string }[];
  }[];
}

export const parityManifest = JSON.parse(readFileSync(PARITY_DIR + 'manifest.json', 'utf8')) as ParityManifest;

/** Shape equal, max |diff| and argmax agreement (channels on axis 1, torch's layout) within the manifest's tolerance. */
export function assertMatchesTorch(t: { diagnostic(message: string): void }, image: string, actual: Float32Tensor, expected: Float32Tensor): void {
  const { tolerance } = parityManifest;
  assert.deepEqual(actual.shape, expected.shape, `${image}: output shape`);
  const diff = maxAbsDiff(actual.data, expected.data);
  const same = agreement(argmaxAlong(actual, 1), argmaxAlong(expected, 1));
  t.diagnostic(`${image}: max abs diff ${diff.toExponential(2)}, argmax agreement ${(same * 100).toFixed(3)}%`);
  assert.ok(diff <= tolerance.maxAbsDiff, `${image}: max abs diff ${diff} > ${tolerance.maxAbsDiff}`);
  assert.ok(same >= tolerance.minArgmaxAgreement, `${image}: argmax agreement ${same}`);
}
