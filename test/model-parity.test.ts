/**
 * The acceptance test of the model: our TensorFlow.js forward pass, fed the torchvision checkpoints that
 * scripts/make_fixtures.py saved, equals torchvision's outputs on the same images.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, describe, test } from 'node:test';
import { computeLogits } from '../cli/commands/logits.js';
import { tf } from '../model/engines/tfjs-runtime.js';
import type { LoadedModel } from '../model/loaded-model.js';
import { loadModel } from '../model/load-model.js';
import { readNpy } from '../model/npy.js';
import { assertMatchesTorch, PARITY_DIR, parityManifest } from './parity-fixtures.js';

const dir = PARITY_DIR;
const manifest = parityManifest;

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
        assertMatchesTorch(t, c.image, await computeLogits(model, await readFile(dir + c.image)), expected);
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
