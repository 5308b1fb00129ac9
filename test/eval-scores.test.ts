import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EvalAccumulator } from '../segmentation/eval/accumulator.js';
import { accumulateConfusion, ConfusionMatrix } from '../segmentation/eval/confusion.js';
import {
  InconsistentInstancesError,
  InvalidInstanceIdError,
  InvalidLabelIdError,
  InvalidTrainIdError,
  PixelCountError,
  SizeMismatchError,
} from '../segmentation/eval/errors.js';
import { evaluateArrays, labelIdsFromTrainIds } from '../segmentation/eval/evaluate.js';
import type { EvalPair, InstanceIdImage, LabelIdImage } from '../segmentation/eval/types.js';

const labels = (source: string, width: number, ids: number[]): LabelIdImage => ({
  data: Uint8Array.from(ids),
  width,
  height: ids.length / width,
  source,
});
const instanceIds = (source: string, width: number, ids: number[]): InstanceIdImage => ({
  data: Uint16Array.from(ids),
  width,
  height: ids.length / width,
  source,
});

const close = (actual: number | null, expected: number, what: string) => {
  assert.ok(actual !== null && Math.abs(actual - expected) < 1e-12, `${what}: ${actual} ≠ ${expected}`);
};

// gt 0 (unlabeled) and 9 (parking) are ignored; 4 (static) is an ignored prediction.
//            road→road  road→sw  road→static  void→road  sw→sw  sw→road  parking→sw  road→person
const IGNORE_GT = [7, 7, 7, 0, 8, 8, 9, 7];
const IGNORE_PRED = [7, 8, 4, 7, 8, 7, 8, 24];

test('ignore rules: predictions on ignored gt are no false positives, predicting an ignored label is a false negative', async () => {
  const result = await evaluateArrays([{ groundTruth: labels('gt', 4, IGNORE_GT), prediction: labels('pred', 4, IGNORE_PRED) }]);
  close(result.classIoU.road, 1 / 5, 'road: tp 1, fn 3 (sidewalk, static, person), fp 1 (on sidewalk), none on void'); // 0.2
  close(result.classIoU.sidewalk, 1 / 3, 'sidewalk: tp 1, fn 1, fp 1; the parking pixel is no fp');
  close(result.classIoU.person, 0, 'person: fp 1 only');
  const scored = Object.entries(result.classIoU).filter(([, s]) => s !== null);
  assert.deepEqual(
    scored.map(([name]) => name),
    ['road', 'sidewalk', 'person'],
  );
  close(result.mIoU, (0.2 + 1 / 3 + 0) / 3, 'mean over the 3 scored classes, 16 NaN classes left out');
  assert.equal(Object.keys(result.classIoU).length, 19);
  close(result.categoryIoU.flat, 4 / 6, 'flat: tp 4 (road/sidewalk both ways), fn 2, fp 0 (void and parking rows ignored)');
  close(result.categoryIoU.human, 0, 'human: fp 1');
  assert.equal(result.categoryIoU.vehicle, null);
  close(result.mCategoryIoU, (4 / 6 + 0) / 2, 'category mean over flat and human');
  assert.equal(result.iIoU, null);
  assert.equal(result.mIIoU, null);
  assert.equal(result.categoryIIoU, null);
  assert.equal(result.confusion[0][7], 1, 'the void pixel is still counted in the matrix');
  assert.equal(result.confusion[7][4], 1);
  assert.equal(result.nImages, 1);
});

const CAR = 12794.0202738185;
const PERSON = 3462.4756337644;

test('iIoU: instances weighted by avgClassSize / area; category iIoU counts caravan predictions, category IoU does not', async () => {
  // car 26001 (area 4), person 24000 (area 1), car 26002 (area 2), road, road, caravan 29003 (ignored)
  const gt = [26, 26, 26, 26, 24, 26, 26, 7, 7, 29];
  const inst = [26001, 26001, 26001, 26001, 24000, 26002, 26002, 7, 7, 29003];
  const pred = [26, 26, 29, 7, 24, 26, 27, 26, 29, 26];
  const result = await evaluateArrays([
    { groundTruth: labels('gt', 5, gt), prediction: labels('pred', 5, pred), instances: instanceIds('inst', 5, inst) },
  ]);
  // car: tp 2·A/4 + 1·A/2 = A, fn 2·A/4 + 1·A/2 = A, fp 1 (road pixel predicted car; the caravan gt pixel is ignored)
  close(result.iIoU!.car, CAR / (2 * CAR + 1), 'car iIoU');
  close(result.iIoU!.person, PERSON / PERSON, 'person iIoU');
  close(result.iIoU!.truck, 0, 'truck iIoU: one fp, no instance');
  assert.deepEqual(
    Object.entries(result.iIoU!)
      .filter(([, s]) => s === null)
      .map(([n]) => n),
    ['rider', 'bus', 'train', 'motorcycle', 'bicycle'],
  );
  close(result.mIIoU, (CAR / (2 * CAR + 1) + 1 + 0) / 3, 'mIIoU');
  // vehicle: car 26001 hits 26,26,29 → tp 3·A/4, fn A/4; car 26002 hits 26,27 → tp A; fp: road→car and road→caravan
  close(result.categoryIIoU!.vehicle, ((7 * CAR) / 4) / ((7 * CAR) / 4 + 2 + CAR / 4), 'vehicle iIoU');
  close(result.categoryIIoU!.human, 1, 'human iIoU');
  close(result.mCategoryIIoU, (1 + (7 * CAR) / (8 * CAR + 8)) / 2, 'category iIoU mean');
  // pixel level: car tp 3, fn 3, fp 1; vehicle tp 4 (car, truck), fn 2 (caravan, road), fp 1 (road→car only)
  close(result.classIoU.car, 3 / 7, 'car IoU');
  close(result.categoryIoU.vehicle, 4 / 7, 'vehicle IoU');
});

test('iIoU sums instances over images and skips ids ≤ 1000 (label-only groups)', async () => {
  const first: EvalPair = {
    groundTruth: labels('gt1', 3, [26, 26, 26]),
    prediction: labels('pred1', 3, [26, 7, 26]),
    instances: instanceIds('inst1', 3, [26000, 26000, 26]),
  };
  const second: EvalPair = {
    groundTruth: labels('gt2', 2, [26, 26]),
    prediction: labels('pred2', 2, [7, 7]),
    instances: instanceIds('inst2', 2, [26005, 1000]),
  };
  const result = await evaluateArrays([first, second]);
  // image 1: instance area 2, 1 hit → tp A/2, fn A/2; image 2: area 1, miss → fn A; the id-1000 pixel is no instance
  close(result.iIoU!.car, CAR / 2 / (CAR / 2 + CAR / 2 + CAR), 'car iIoU over two images');
  assert.equal(result.nImages, 2);
});

test('confusion matrix: counts row = gt, column = prediction, and a bad pixel leaves it untouched', () => {
  const matrix = new ConfusionMatrix();
  accumulateConfusion(matrix, labels('gt', 2, [7, 7, 33, 0]), labels('pred', 2, [7, 8, 33, 33]));
  accumulateConfusion(matrix, labels('gt', 1, [7]), labels('pred', 1, [7]));
  assert.equal(matrix.at(7, 7), 2);
  assert.equal(matrix.at(7, 8), 1);
  assert.equal(matrix.at(33, 33), 1);
  assert.equal(matrix.at(0, 33), 1);
  assert.equal(matrix.total(), 5);
  assert.throws(
    () => accumulateConfusion(matrix, labels('gt-x', 2, [7, 7]), labels('pred-x.png', 2, [7, 34])),
    (e: Error) => e instanceof InvalidLabelIdError && /pred-x\.png/.test(e.message) && /label id 34\b/.test(e.message),
  );
  assert.throws(
    () => accumulateConfusion(matrix, labels('gt-y.png', 2, [255, 7]), labels('pred-y', 2, [7, 7])),
    (e: Error) => e instanceof InvalidLabelIdError && /ground truth gt-y\.png/.test(e.message) && /label id 255\b/.test(e.message),
  );
  assert.equal(matrix.total(), 5, 'the failed images added nothing');
  assert.equal(matrix.at(7, 7), 2);
});

test('in-memory errors name the source: size mismatch, data length, mixed instance presence, bad instance ids', () => {
  const accumulator = new EvalAccumulator();
  assert.throws(
    () => accumulator.add({ groundTruth: labels('gt-a', 2, [7, 7]), prediction: labels('pred-a', 1, [7, 7]) }),
    (e: Error) => e instanceof SizeMismatchError && e.message === 'pred-a is 1x2 but its ground truth gt-a is 2x1',
  );
  assert.throws(
    () => accumulator.add({ groundTruth: { ...labels('gt-b', 2, [7, 7]), height: 2 }, prediction: { ...labels('pred-b', 2, [7, 7]), height: 2 } }),
    (e: Error) => e instanceof PixelCountError && /gt-b: 2 values for 2x2 pixels/.test(e.message),
  );
  const bad = (id: number, reason: RegExp) =>
    assert.throws(
      () =>
        accumulator.add({
          groundTruth: labels('gt-c', 2, [7, 7]),
          prediction: labels('pred-c', 2, [7, 7]),
          instances: instanceIds('inst-c.png', 2, [id, 7]),
        }),
      (e: Error) => e instanceof InvalidInstanceIdError && e.message.includes(`inst-c.png contains instance id ${id}`) && reason.test(e.message),
    );
  bad(7001, /label 7 \(road\) has no instances/);
  bad(40001, /label id 40 is not a Cityscapes label/);
  assert.equal(accumulator.nImages, 0);
  assert.equal(accumulator.confusion.total(), 0, 'rejected pairs add nothing');

  accumulator.add({ groundTruth: labels('gt-d', 1, [7]), prediction: labels('pred-d', 1, [7]) });
  assert.throws(
    () =>
      accumulator.add({
        groundTruth: labels('gt-e', 1, [26]),
        prediction: labels('pred-e', 1, [26]),
        instances: instanceIds('inst-e', 1, [26001]),
      }),
    (e: Error) => e instanceof InconsistentInstancesError && /pair for gt-e has instance ids but the earlier pairs had none/.test(e.message),
  );
  // ids of ignored labels (1xxx ego vehicle, 29xxx caravan) are skipped like the script does, not rejected
  const withIgnored = new EvalAccumulator();
  withIgnored.add({
    groundTruth: labels('gt-f', 2, [1, 29]),
    prediction: labels('pred-f', 2, [1, 29]),
    instances: instanceIds('inst-f', 2, [1001, 29001]),
  });
  assert.deepEqual(Object.values(withIgnored.result().iIoU!), Array(8).fill(null));
});

test('labelIdsFromTrainIds maps the model\'s trainIds to label ids and rejects trainIds of no class', async () => {
  const trainIds = { data: Uint8Array.from([0, 1, 2, 10, 11, 13, 16, 18]), width: 4, height: 2 };
  const converted = labelIdsFromTrainIds(trainIds, 'model output');
  assert.deepEqual(Array.from(converted.data), [7, 8, 11, 23, 24, 26, 31, 33]);
  assert.deepEqual([converted.width, converted.height, converted.source], [4, 2, 'model output']);
  for (const bad of [19, 255]) {
    assert.throws(
      () => labelIdsFromTrainIds({ data: Uint8Array.from([0, bad]), width: 2, height: 1 }, 'frame 3'),
      (e: Error) => e instanceof InvalidTrainIdError && e.message === `frame 3 contains trainId ${bad}, which is no evaluated Cityscapes class (0..18)`,
    );
  }
  // scored as label ids: a perfect trainId prediction of road + sidewalk gives IoU 1 for both
  const gt = { data: Uint8Array.from([7, 8]), width: 2, height: 1, source: 'gt' };
  const result = await evaluateArrays([{ groundTruth: gt, prediction: labelIdsFromTrainIds({ data: Uint8Array.from([0, 1]), width: 2, height: 1 }, 'p') }]);
  assert.deepEqual([result.classIoU.road, result.classIoU.sidewalk, result.mIoU], [1, 1, 1]);
});
