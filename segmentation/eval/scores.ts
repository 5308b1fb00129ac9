/**
 * IoU and instance-weighted iIoU from a confusion matrix, exactly as evalPixelLevelSemanticLabeling.py
 * scores them: false positives count only on pixels whose ground truth is an evaluated class;
 * false negatives count a class's ground-truth pixels predicted as anything else, ignored labels included.
 */
import type { ConfusionMatrix } from './confusion.js';
import type { InstanceStats } from './instances.js';
import {
  EVALUATED_CATEGORIES,
  EVALUATED_CLASSES,
  INSTANCE_CATEGORIES,
  INSTANCE_CLASSES,
  LABEL_BY_ID,
  NOT_IGNORED_IDS,
} from './label-sets.js';
import type { Score } from './types.js';

const ALL_COLUMNS: readonly number[] = Array.from(LABEL_BY_ID.keys());

/** tp / (tp + fp + fn); null where the script returns NaN (nothing of the class anywhere). */
function iou(tp: number, fp: number, fn: number): Score {
  const denominator = tp + fp + fn;
  return denominator === 0 ? null : tp / denominator;
}

/** Predictions of `labelIds` on pixels whose ground truth is evaluated but not in `labelIds`' own rows. */
function falsePositives(matrix: ConfusionMatrix, labelIds: readonly number[], exclude: (gtId: number) => boolean): number {
  return matrix.sum(
    NOT_IGNORED_IDS.filter((r) => !exclude(r)),
    labelIds,
  );
}

const sameCategory = (category: string) => (gtId: number) => LABEL_BY_ID[gtId]!.category === category;

/** `getIouScoreForLabel` for the 19 evaluated classes. */
export function classIoU(matrix: ConfusionMatrix): Record<string, Score> {
  const scores: Record<string, Score> = {};
  for (const { id, name } of EVALUATED_CLASSES) {
    const tp = matrix.at(id, id);
    const fn = matrix.rowSum(id) - tp;
    const fp = falsePositives(matrix, [id], (r) => r === id);
    scores[name] = iou(tp, fp, fn);
  }
  return scores;
}

/** `getIouScoreForCategory`: a pixel is right when ground truth and prediction are both in the category. */
export function categoryIoU(matrix: ConfusionMatrix): Record<string, Score> {
  const scores: Record<string, Score> = {};
  for (const { name, labelIds } of EVALUATED_CATEGORIES) {
    const tp = matrix.sum(labelIds, labelIds);
    const fn = matrix.sum(labelIds, ALL_COLUMNS) - tp;
    const fp = falsePositives(matrix, labelIds, sameCategory(name));
    scores[name] = iou(tp, fp, fn);
  }
  return scores;
}

/** `getInstanceIouScoreForLabel`: weighted tp/fn from the instances, unweighted fp from the matrix. */
export function classIIoU(matrix: ConfusionMatrix, stats: InstanceStats): Record<string, Score> {
  const scores: Record<string, Score> = {};
  for (const { id, name } of INSTANCE_CLASSES) {
    const { tpWeighted, fnWeighted } = stats.classes.get(name)!;
    scores[name] = iou(tpWeighted, falsePositives(matrix, [id], (r) => r === id), fnWeighted);
  }
  return scores;
}

/**
 * `getInstanceIouScoreForCategory`. Its fp columns are all of the category's label ids, ignored
 * ones (caravan, trailer) included, unlike `categoryIoU`.
 */
export function categoryIIoU(matrix: ConfusionMatrix, stats: InstanceStats): Record<string, Score> {
  const scores: Record<string, Score> = {};
  for (const { name, labelIds } of INSTANCE_CATEGORIES) {
    const { tpWeighted, fnWeighted } = stats.categories.get(name)!;
    scores[name] = iou(tpWeighted, falsePositives(matrix, labelIds, sameCategory(name)), fnWeighted);
  }
  return scores;
}

/** `getScoreAverage`: mean of the non-null scores; null when there are none. */
export function meanScore(scores: Record<string, Score>): Score {
  const valid = Object.values(scores).filter((s): s is number => s !== null);
  return valid.length === 0 ? null : valid.reduce((a, b) => a + b, 0) / valid.length;
}
