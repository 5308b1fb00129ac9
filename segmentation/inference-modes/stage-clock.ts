import { performance } from 'node:perf_hooks';

export type Stage = 'preprocess' | 'inference' | 'postprocess';

/**
 * Milliseconds per stage summed over every pass of one segmentation, and the number of network runs. `checkpoint`
 * runs before every stage and may throw to stop the work (a job whose request timed out stops between windows).
 */
export class StageClock {
  preprocessMs = 0;
  inferenceMs = 0;
  postprocessMs = 0;
  forwardPasses = 0;
  private readonly checkpoint: () => void;

  constructor(checkpoint: () => void = () => undefined) {
    this.checkpoint = checkpoint;
  }

  async time<T>(stage: Stage, fn: () => Promise<T> | T): Promise<T> {
    this.checkpoint();
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
