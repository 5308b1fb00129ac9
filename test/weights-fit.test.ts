/**
 * What a checkpoint says about itself: the architecture and class count read from keys and shapes, the
 * given values as checks, the state dict chosen from wrappers and prefixes, the label set following the class
 * count, and loadModel with nothing but a file.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { loadModel } from '../model/load-model.js';
import { expectedShapes, networkSpec } from '../model/network-spec.js';
import type { ArchName } from '../model/loaded-model.js';
import { WeightsError } from '../model/weights/errors.js';
import { inferArchitecture, resolveArchitecture } from '../model/weights/fit.js';
import { readCheckpoint } from '../model/weights/load.js';
import { labelSetNameForClassCount } from '../segmentation/labels/for-class-count.js';
import { LabelSetError } from '../segmentation/errors.js';
import { computeLogits } from '../cli/commands/logits.js';
import { assertMatchesTorch } from './parity-fixtures.js';
import { expectedEmaLogits, expectedLogits, FORMS_DIR, PARITY_IMAGE } from './weights-forms-helpers.js';

const shapesOf = (arch: ArchName, numClasses: number): Map<string, number[]> => expectedShapes(networkSpec(arch, { numClasses }));

function throwsProblem(fn: () => unknown, problem: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof WeightsError, String(error));
    assert.equal(error.problem, problem);
    return true;
  });
}

describe('inferArchitecture', () => {
  for (const [arch, numClasses] of [
    ['lraspp_mobilenet_v3_large', 19], ['lraspp_mobilenet_v3_small', 21], ['lraspp_mobilenet_v3_small', 7],
    ['mobilenet_v3_large', 1000], ['mobilenet_v3_small', 10],
  ] as [ArchName, number][]) {
    it(`${arch} with ${numClasses} classes`, () => {
      const fit = inferArchitecture(shapesOf(arch, numClasses), 'w.pth');
      assert.deepEqual(fit, { arch, numClasses, task: arch.startsWith('lraspp') ? 'segmentation' : 'classification', exact: true });
    });
  }

  it('names the closest variant, not exact, when a tensor is missing', () => {
    const shapes = shapesOf('lraspp_mobilenet_v3_small', 19);
    shapes.delete('classifier.cbr.0.weight');
    assert.deepEqual(inferArchitecture(shapes, 'w.pth'), { arch: 'lraspp_mobilenet_v3_small', numClasses: 19, task: 'segmentation', exact: false });
  });

  it('says what is missing from a backbone-only state dict, with or without its prefix', () => {
    const whole = shapesOf('lraspp_mobilenet_v3_large', 19);
    const prefixed = new Map([...whole].filter(([name]) => name.startsWith('backbone.')));
    throwsProblem(
      () => inferArchitecture(prefixed, 'b.pth'),
      `holds an LR-ASPP backbone only (backbone.*, ${prefixed.size} tensors): the head classifier.cbr, classifier.scale, classifier.low_classifier, classifier.high_classifier is missing`,
    );
    const features = new Map([...shapesOf('mobilenet_v3_small', 1000)].filter(([name]) => name.startsWith('features.')));
    throwsProblem(() => inferArchitecture(features, 'f.pth'), 'holds MobileNetV3 features only: the classifier head (classifier.0, classifier.3) is missing');
    throwsProblem(
      () => inferArchitecture(new Map([['encoder.conv.weight', [8, 3, 3, 3]]]), 'x.pth'),
      'fits no MobileNetV3 or LR-ASPP architecture: it has neither classifier.low_classifier.weight (LR-ASPP) nor classifier.3.weight (MobileNetV3 classifier); its first keys are encoder.conv.weight',
    );
  });
});

describe('resolveArchitecture: given values are checks', () => {
  const small21 = shapesOf('lraspp_mobilenet_v3_small', 21);

  it('agreeing values pass, absent ones are read from the file', () => {
    assert.deepEqual(resolveArchitecture(small21, 'w.pth', {}), { arch: 'lraspp_mobilenet_v3_small', numClasses: 21 });
    assert.deepEqual(resolveArchitecture(small21, 'w.pth', { arch: 'lraspp_mobilenet_v3_small', numClasses: 21, task: 'segmentation' }), {
      arch: 'lraspp_mobilenet_v3_small',
      numClasses: 21,
    });
  });

  it('a contradiction names both values', () => {
    throwsProblem(
      () => resolveArchitecture(small21, 'w.pth', { numClasses: 19 }),
      'has 21 classes (classifier.low_classifier.weight is [21, 24, 1, 1]), but 19 classes were given',
    );
    throwsProblem(
      () => resolveArchitecture(small21, 'w.pth', { arch: 'lraspp_mobilenet_v3_large' }),
      'holds lraspp_mobilenet_v3_small weights, but the architecture given is lraspp_mobilenet_v3_large',
    );
    throwsProblem(
      () => resolveArchitecture(shapesOf('mobilenet_v3_large', 1000), 'c.pth', { task: 'segmentation' }),
      'holds a classification model (mobilenet_v3_large, 1000 classes), but a segmentation model (lraspp_mobilenet_v3_large or lraspp_mobilenet_v3_small or fastseg_mobilev3_large or fastseg_mobilev3_small) is needed here',
    );
  });
});

describe('readCheckpoint: the forms torch writes', () => {
  const read = async (file: string, weightsKey?: string) => readCheckpoint(await readFile(FORMS_DIR + file), file, { weightsKey });

  it('legacy format, DataParallel prefix, training checkpoint and its EMA entry', async () => {
    const summary = async (file: string, key?: string) => {
      const c = await read(file, key);
      return [c.format, c.selectedKey, c.strippedPrefix, c.droppedKeys, c.tensors.size, [...c.tensors.keys()][0]];
    };
    assert.deepEqual(await summary('legacy.pth'), ['legacy', null, null, [], 251, 'backbone.0.0.weight']);
    assert.deepEqual(await summary('dataparallel.pth'), ['zip', null, 'module.', [], 251, 'backbone.0.0.weight']);
    assert.deepEqual(await summary('training.pth'), ['zip', 'model', null, [], 251, 'backbone.0.0.weight']);
    assert.deepEqual(await summary('training.pth', 'model_ema'), ['zip', 'model_ema', 'module.', ['n_averaged'], 251, 'backbone.0.0.weight']);
  });

  it('a truncated legacy file is a WeightsError saying so', async () => {
    const bytes = await readFile(FORMS_DIR + 'legacy.pth');
    const cut = bytes.subarray(0, bytes.length - 1000);
    assert.throws(() => readCheckpoint(cut, 'cut.pth'), (error: unknown) => {
      assert.ok(error instanceof WeightsError);
      assert.match(error.problem, /^truncated legacy checkpoint: storage \S+ declares \d+ elements, past the end of the file$/);
      return true;
    });
  });
});

describe('the label set follows the class count', () => {
  it('19 → cityscapes, 21 → voc, anything else must be named', () => {
    assert.equal(labelSetNameForClassCount(19), 'cityscapes');
    assert.equal(labelSetNameForClassCount(21), 'voc');
    assert.throws(() => labelSetNameForClassCount(7), (error: unknown) => {
      assert.ok(error instanceof LabelSetError);
      assert.match(error.message, /the model has 7 classes, which no built-in label set has \(cityscapes 19, voc 21\); name one with --labels/);
      return true;
    });
  });
});

describe('loadModel with nothing but a file', () => {
  it('builds what the checkpoint holds and equals torchvision; the EMA entry by weightsKey', async (t) => {
    const image = await readFile(PARITY_IMAGE);
    for (const [weightsKey, expected] of [[undefined, expectedLogits], ['model_ema', expectedEmaLogits]] as const) {
      const model = await loadModel({ weights: FORMS_DIR + 'training.pth', weightsKey, engine: 'tfjs' });
      try {
        assert.equal(model.arch, 'lraspp_mobilenet_v3_small');
        assert.equal(model.numClasses, 19);
        assert.equal(model.id, 'lraspp_mobilenet_v3_small');
        assertMatchesTorch(t, `training.pth ${weightsKey ?? 'model'}`, await computeLogits(model, image), expected());
      } finally {
        model.engine.dispose();
      }
    }
  });

  it('without weights builds the defaults untrained: fastseg MobileV3Large F128, 19 classes; a classifier task gets MobileNetV3-Large, 1000', async () => {
    const { prepareNetwork } = await import('../model/load-model.js');
    const seg = await prepareNetwork({});
    assert.deepEqual([seg.arch, seg.numClasses, seg.weights.trained, seg.parameterCount], ['fastseg_mobilev3_large', 19, false, 3_284_547]);
    const cls = await prepareNetwork({ task: 'classification' });
    assert.deepEqual([cls.arch, cls.numClasses], ['mobilenet_v3_large', 1000]);
  });
});
