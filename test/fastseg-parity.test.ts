/**
 * fastseg's MobileNetV3 LR-ASPP family equals fastseg's own PyTorch code (scripts/make_fastseg_fixtures.py ran
 * fastseg's and geffnet's modules): all five variants, recognised from the checkpoint alone, on both engines, at
 * the smallest accepted size, an odd size and a 3:1 panorama. Logits are compared at a grid of pixels (every
 * `sampleStep`-th row and column, plus the last), the argmax over every pixel.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, describe, test } from 'node:test';
import { computeLogits } from '../cli/commands/logits.js';
import type { LoadedModel } from '../model/loaded-model.js';
import { loadModel } from '../model/load-model.js';
import { assertMatchesFastseg, FASTSEG_DIR, fastsegManifest } from './fastseg-fixtures.js';

for (const engine of ['onnx', 'tfjs'] as const) {
  describe(`fastseg parity (${engine}): fastseg's PyTorch forward on calibrated networks`, () => {
    const loaded: LoadedModel[] = [];
    after(() => loaded.forEach((m) => m.engine.dispose()));

    for (const entry of fastsegManifest.models) {
      test(`${entry.variant} (${entry.dtype} checkpoint, recognised from the file alone)`, async (t) => {
        const model = await loadModel({ weights: FASTSEG_DIR + entry.weights, engine });
        loaded.push(model);
        assert.equal(model.arch, entry.arch);
        assert.equal(model.numClasses, entry.numClasses);
        assert.equal(model.parameterCount, entry.parameterCount);
        assert.equal(model.weights.trained, true);
        for (const c of entry.cases) {
          const logits = await computeLogits(model, await readFile(FASTSEG_DIR + c.image));
          await assertMatchesFastseg(t, `${entry.variant} ${c.image}`, logits, c);
        }
      });
    }
  });
}
