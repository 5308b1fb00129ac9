/** Which weights a model runs: a named preset supplies the facts left out and contradicts none given; none = untrained. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WeightsError } from '../model/weights/errors.js';
import { TORCHVISION_PRESETS } from '../model/weights/presets.js';
import { chooseWeights, type WeightsRequest } from '../model/weights/weights-choice.js';

const SEGMENTATION: WeightsRequest = { task: 'segmentation', defaultArch: 'lraspp_mobilenet_v3_large' };
const CLASSIFICATION: WeightsRequest = { task: 'classification', defaultArch: 'mobilenet_v3_large', numClasses: 1000 };
const choose = (request: Partial<WeightsRequest>, base = SEGMENTATION) => chooseWeights({ ...base, ...request }, TORCHVISION_PRESETS);

describe('chooseWeights', () => {
  it('with nothing given, picks the default preset with its classes and label set', () => {
    assert.deepEqual(choose({}), {
      arch: 'lraspp_mobilenet_v3_large',
      numClasses: 21,
      labels: 'voc',
      weights: 'torchvision:lraspp_mobilenet_v3_large.COCO_WITH_VOC_LABELS_V1',
      origin: 'default-preset',
    });
    assert.equal(choose({}, CLASSIFICATION).weights, 'torchvision:mobilenet_v3_large.IMAGENET1K_V2');
    assert.equal(choose({ arch: 'mobilenet_v3_small' }, CLASSIFICATION).weights, 'torchvision:mobilenet_v3_small.IMAGENET1K_V1');
  });

  it('gives way to facts the default does not fit, and to none, untrained with the reason', () => {
    assert.deepEqual(choose({ labels: 'cityscapes' }), {
      arch: 'lraspp_mobilenet_v3_large',
      numClasses: undefined,
      labels: 'cityscapes',
      origin: 'no-preset',
      detail: 'the default weights torchvision:lraspp_mobilenet_v3_large.COCO_WITH_VOC_LABELS_V1 do not fit: its classes are the voc label set, not cityscapes',
    });
    assert.equal(choose({ labels: 'my-labels.json' }).origin, 'no-preset');
    assert.equal(choose({ numClasses: 19 }).detail, 'the default weights torchvision:lraspp_mobilenet_v3_large.COCO_WITH_VOC_LABELS_V1 do not fit: it has 21 classes, not 19');
    assert.equal(choose({ arch: 'lraspp_mobilenet_v3_small' }).detail, 'torchvision publishes no weights for lraspp_mobilenet_v3_small');
    assert.deepEqual(choose({ weights: 'none' }), { arch: 'lraspp_mobilenet_v3_large', numClasses: undefined, labels: undefined, origin: 'none', detail: undefined });
  });

  it('a named preset supplies arch, classes and labels, and refuses a contradiction naming both values', () => {
    const chosen = choose({ weights: 'torchvision:mobilenet_v3_small' }, { task: 'classification', defaultArch: 'mobilenet_v3_large' });
    assert.deepEqual(chosen, { arch: 'mobilenet_v3_small', numClasses: 1000, labels: undefined, weights: 'torchvision:mobilenet_v3_small.IMAGENET1K_V1', origin: 'given' });
    const cases: [Partial<WeightsRequest>, string][] = [
      [{ numClasses: 19 }, 'it has 21 classes, not 19'],
      [{ labels: 'cityscapes' }, 'its classes are the voc label set, not cityscapes'],
      [{ arch: 'lraspp_mobilenet_v3_small' }, 'it is for arch lraspp_mobilenet_v3_large, not lraspp_mobilenet_v3_small'],
    ];
    for (const [request, problem] of cases) {
      assert.throws(
        () => choose({ ...request, weights: 'torchvision:lraspp_mobilenet_v3_large' }),
        (error: unknown) => error instanceof WeightsError && error.message === `torchvision:lraspp_mobilenet_v3_large.COCO_WITH_VOC_LABELS_V1: does not fit the model asked for: ${problem}`,
      );
    }
    assert.throws(() => choose({ weights: 'torchvision:lraspp_mobilenet_v3_large' }, CLASSIFICATION), /it is a segmentation model, not a classification one/);
    assert.throws(() => choose({ weights: 'torchvision:nope' }), /torchvision:nope: no such preset/);
  });

  it('passes a path or URL through, leaving the facts to the caller', () => {
    assert.deepEqual(choose({ weights: '/w/mine.pth', numClasses: 19 }), { arch: undefined, numClasses: 19, labels: undefined, weights: '/w/mine.pth', origin: 'given', detail: undefined });
  });
});
