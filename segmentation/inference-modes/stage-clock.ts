import { performance } from 'node:perf_hooks';

export type Stage = 'preprocess' | 'inference' | 'postprocess';

/** Milliseconds per stage summed over every pass of one segmentation, and the number of network runs. */
export class StageClock {
  preprocessMs = 0;
  inferenceMs = 0;
  postprocessMs = 0;
  forwardPasses = 0;

  async time<T>(stage: Stage, fn: () => Promise<T> | T): Promise<T> {
    const start = performance.now();
    try {
      return await fn();
    } finally {
      this[`${stage}Ms`] += performance.now() - start;
    }
  }

  timings(): { preprocessMs: number; inferenceMs: number; postprocessMs: number } {
    return { preprocessMs: this.preprocessMs, inferenceMs: this.inferenceMs, postprocessMs: this.postprocessMs };
  }
}
