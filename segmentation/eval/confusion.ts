/** The label-id confusion matrix of evalPixelLevelSemanticLabeling.py (`generateMatrix` / `evaluatePair`). */
import { assertPixelCount, assertSameSize, InvalidLabelIdError } from './errors.js';
import { LABEL_BY_ID, MATRIX_SIZE } from './label-sets.js';
import type { LabelIdImage } from './types.js';

/** 1 for byte values that are Cityscapes label ids; a pixel with any other value is an error. */
const IS_LABEL_ID = Uint8Array.from({ length: 256 }, (_, id) => (LABEL_BY_ID[id] ? 1 : 0));

export class ConfusionMatrix {
  readonly size = MATRIX_SIZE;
  /** Row-major `[groundTruthId][predictedId]`; float64 holds pixel counts exactly up to 2^53. */
  readonly counts = new Float64Array(MATRIX_SIZE * MATRIX_SIZE);

  at(groundTruthId: number, predictedId: number): number {
    return this.counts[groundTruthId * this.size + predictedId];
  }

  /** Sum of `at(r, c)` over every row in `rows` and column in `cols`. */
  sum(rows: readonly number[], cols: readonly number[]): number {
    let total = 0;
    for (const r of rows) for (const c of cols) total += this.counts[r * this.size + c];
    return total;
  }

  rowSum(groundTruthId: number): number {
    let total = 0;
    for (let c = 0; c < this.size; c++) total += this.counts[groundTruthId * this.size + c];
    return total;
  }

  total(): number {
    return this.counts.reduce((a, b) => a + b, 0);
  }

  toRows(): number[][] {
    return Array.from({ length: this.size }, (_, r) => Array.from(this.counts.subarray(r * this.size, (r + 1) * this.size)));
  }
}

/** Adds one image pair; throws before changing the matrix if sizes differ or any id is not a label id. */
export function accumulateConfusion(matrix: ConfusionMatrix, groundTruth: LabelIdImage, prediction: LabelIdImage): void {
  assertSameSize(prediction, groundTruth);
  assertPixelCount(groundTruth);
  assertPixelCount(prediction);
  const n = groundTruth.width * groundTruth.height;
  const gt = groundTruth.data;
  const pred = prediction.data;
  // Count into a scratch matrix first so a bad pixel late in the image leaves `matrix` untouched.
  const size = matrix.size;
  const scratch = new Float64Array(size * size);
  for (let i = 0; i < n; i++) {
    const g = gt[i];
    const p = pred[i];
    if (IS_LABEL_ID[g] === 0) throw new InvalidLabelIdError(groundTruth.source, g, 'ground truth');
    if (IS_LABEL_ID[p] === 0) throw new InvalidLabelIdError(prediction.source, p, 'prediction');
    scratch[g * size + p]++;
  }
  for (let k = 0; k < scratch.length; k++) matrix.counts[k] += scratch[k];
}
