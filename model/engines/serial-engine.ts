/**
 * One inference at a time on the wrapped engine, in arrival order. Lets the server run several requests'
 * decoding, pre- and post-processing while another request's inference has the cores, without two
 * multi-threaded inferences fighting over them.
 */
import type { Float32Tensor, InferenceEngine } from './engine.js';

export class SerialEngine implements InferenceEngine {
  readonly engine;
  readonly backend;
  private tail: Promise<unknown> = Promise.resolve();

  private readonly inner: InferenceEngine;
  constructor(inner: InferenceEngine) {
    this.inner = inner;
    this.engine = inner.engine;
    this.backend = inner.backend;
  }

  run(input: Float32Tensor): Promise<Float32Tensor> {
    const result = this.tail.then(async () => {
      // Timed from when the engine is ours: X-Inference-Ms must not include waiting behind another request.
      const started = performance.now();
      const output = await this.inner.run(input);
      return { ...output, forwardMs: output.forwardMs ?? performance.now() - started, batchSize: output.batchSize ?? input.shape[0] };
    });
    // The next run waits for this one whether it succeeds or fails.
    this.tail = result.catch(() => undefined);
    return result;
  }

  dispose(): void {
    this.inner.dispose();
  }
}
