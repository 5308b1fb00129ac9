/**
 * The acceptance test of the model: our TensorFlow.js forward pass, fed the torchvision checkpoints that
 * scripts/make_fixtures.py saved, equals torchvision's outputs on the same images.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { computeLogits } from '../cli/commands/logits.js';
import { tf } from '../model/engines/tfjs-runtime.js';
import type { ArchName, LoadedModel } from '../model/loaded-model.js';
import { loadModel } from '../model/load-model.js';
import { readNpy } from '../model/npy.js';

const dir = fileURLToPath(new URL('./fixtures/parity/', import.meta.url));

interface Manifest {
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

const manifest = JSON.parse(readFileSync(dir + 'manifest.json', 'utf8')) as Manifest;

/** Max |a - b| and the share of positions (pixels, or the single row) whose argmax over channels agrees. */
function compare(actual: Float32Array, expected: Float32Array, shape: number[]): { maxAbs: number; agreement: number } {
  let maxAbs = 0;
  for (let i = 0; i < actual.length; i++) maxAbs = Math.max(maxAbs, Math.abs(actual[i] - expected[i]));
  const channels = shape[1];
  const plane = shape.length === 4 ? shape[2] * shape[3] : 1;
  let same = 0;
  for (let p = 0; p < plane; p++) {
    let bestA = 0;
    let bestE = 0;
    for (let c = 1; c < channels; c++) {
      if (actual[c * plane + p] > actual[bestA * plane + p]) bestA = c;
      if (expected[c * plane + p] > expected[bestE * plane + p]) bestE = c;
    }
    if (bestA === bestE) same++;
  }
  return { maxAbs, agreement: same / plane };
}

describe('parity with torchvision 0.14 (golden fixtures)', () => {
  const loaded: LoadedModel[] = [];
  after(() => loaded.forEach((m) => m.engine.dispose()));

  for (const entry of manifest.models) {
    test(`${entry.arch} (${entry.numClasses} classes, ${entry.weights})`, async (t) => {
      const model = await loadModel({ arch: entry.arch, numClasses: entry.numClasses, weights: dir + entry.weights, engine: 'tfjs' });
      loaded.push(model);
      assert.equal(model.parameterCount, entry.parameterCount);
      assert.equal(model.weights.trained, true);
      assert.match(model.weights.sha256 ?? '', /^[0-9a-f]{64}$/);
      for (const c of entry.cases) {
        const expected = readNpy(await readFile(dir + c.expected));
        const actual = await computeLogits(model, await readFile(dir + c.image));
        assert.deepEqual(actual.shape, expected.shape, `${c.image}: output shape`);
        const { maxAbs, agreement } = compare(actual.data, expected.data, expected.shape);
        t.diagnostic(`${c.image}: max abs diff ${maxAbs.toExponential(2)}, argmax agreement ${(agreement * 100).toFixed(3)}%`);
        assert.ok(maxAbs <= manifest.tolerance.maxAbsDiff, `${c.image}: max abs diff ${maxAbs} > ${manifest.tolerance.maxAbsDiff}`);
        assert.ok(agreement >= manifest.tolerance.minArgmaxAgreement, `${c.image}: argmax agreement ${agreement}`);
      }
    });
  }

  test('no tensors leak across many predictions', async () => {
    const entry = manifest.models.find((m) => m.task === 'segmentation')!;
    const model = await loadModel({ arch: entry.arch, numClasses: entry.numClasses, weights: dir + entry.weights, engine: 'tfjs' });
    loaded.push(model);
    const bytes = await readFile(dir + entry.cases[1].image);
    await computeLogits(model, bytes);
    const before = tf.memory().numTensors;
    const bytesBefore = tf.memory().numBytes;
    for (let i = 0; i < 40; i++) await computeLogits(model, bytes);
    assert.equal(tf.memory().numTensors, before);
    assert.equal(tf.memory().numBytes, bytesBefore);
  });
});
