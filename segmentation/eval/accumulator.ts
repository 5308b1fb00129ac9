/** Running state of one evaluation: the confusion matrix and, when instance images come, iIoU tallies. */
import { accumulateConfusion, ConfusionMatrix } from './confusion.js';
import { assertSameSize, InconsistentInstancesError } from './errors.js';
import { addInstances, InstanceStats, measureInstances } from './instances.js';
import { categoryIIoU, categoryIoU, classIIoU, classIoU, meanScore } from './scores.js';
import type { EvalPair, EvalResult } from './types.js';

export class EvalAccumulator {
  readonly confusion = new ConfusionMatrix();
  /** Set by the first pair: with instance images (iIoU) or without; every later pair must agree. */
  private instances: InstanceStats | null = null;
  private images = 0;

  get nImages(): number {
    return this.images;
  }

  /** Adds one image; when it throws (bad id, size mismatch) nothing of that image is counted. */
  add(pair: EvalPair): void {
    const hasInstances = pair.instances !== undefined;
    if (this.images > 0 && hasInstances !== (this.instances !== null)) {
      throw new InconsistentInstancesError(pair.groundTruth.source, hasInstances);
    }
    assertSameSize(pair.prediction, pair.groundTruth);
    if (pair.instances) assertSameSize(pair.instances, pair.groundTruth);
    const measures = pair.instances ? measureInstances(pair.instances, pair.prediction) : null;
    accumulateConfusion(this.confusion, pair.groundTruth, pair.prediction);
    if (measures) {
      this.instances ??= new InstanceStats();
      addInstances(this.instances, measures);
    }
    this.images++;
  }

  result(): EvalResult {
    const classScores = classIoU(this.confusion);
    const categoryScores = categoryIoU(this.confusion);
    const instanceScores = this.instances ? classIIoU(this.confusion, this.instances) : null;
    const categoryInstanceScores = this.instances ? categoryIIoU(this.confusion, this.instances) : null;
    return {
      nImages: this.images,
      mIoU: meanScore(classScores),
      classIoU: classScores,
      mCategoryIoU: meanScore(categoryScores),
      categoryIoU: categoryScores,
      iIoU: instanceScores,
      mIIoU: instanceScores ? meanScore(instanceScores) : null,
      categoryIIoU: categoryInstanceScores,
      mCategoryIIoU: categoryInstanceScores ? meanScore(categoryInstanceScores) : null,
      confusion: this.confusion.toRows(),
    };
  }
}
