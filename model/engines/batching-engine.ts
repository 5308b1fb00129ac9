/**
 * Dynamic batching as an engine wrapper: single-image calls that arrive within `maxWaitMs` of each other with the
 * same input size run as one [N, H, W, 3] batch on the wrapped engine, and each caller gets its own slice back.
 * Transparent to everything above the engine interface.
 */
import type { Float32Tensor, InferenceEngine } from './engine.js';

export interface BatchingOptions {
  /** Largest batch; 1 disables batching. */
  maxBatch: number;
  /** Longest a request waits for companions before its batch runs anyway. */
  maxWaitMs: number;
}

interface Waiting {
  input: Float32Tensor;
  resolve: (t: Float32Tensor) => void;
  reject: (e: unknown) => void;
}

interface OpenBatch {
  key: string;
  items: Waiting[];
  timer: NodeJS.Timeout;
}

export class BatchingEngine implements InferenceEngine {
  readonly engine;
  readonly backend;
  private readonly open = new Map<string, OpenBatch>();
  /** Batches actually run and the images they held, for metrics and the benchmark. */
  readonly stats = { batches: 0, images: 0 };

  private readonly inner: InferenceEngine;
  private readonly options: BatchingOptions;
  constructor(
    inner: InferenceEngine,
    options: BatchingOptions,
  ) {
    this.inner = inner;
    this.options = options;
    this.engine = inner.engine;
    this.backend = inner.backend;
  }

  run(input: Float32Tensor): Promise<Float32Tensor> {
    if (this.options.maxBatch <= 1 || input.shape[0] !== 1) return this.inner.run(input);
    const key = input.shape.join('x');
    return new Promise((resolve, reject) => {
      let batch = this.open.get(key);
      if (!batch) {
        batch = { key, items: [], timer: setTimeout(() => this.flush(key), this.options.maxWaitMs) };
        this.open.set(key, batch);
      }
      batch.items.push({ input, resolve, reject });
      if (batch.items.length >= this.options.maxBatch) this.flush(key);
    });
  }

  private flush(key: string): void {
    const batch = this.open.get(key);
    if (!batch) return;
    this.open.delete(key);
    clearTimeout(batch.timer);
    void this.runBatch(batch.items);
  }

  private async runBatch(items: Waiting[]): Promise<void> {
    this.stats.batches++;
    this.stats.images += items.length;
    try {
      if (items.length === 1) {
        items[0].resolve(await this.inner.run(items[0].input));
        return;
      }
      const per = items[0].input.data.length;
      const data = new Float32Array(per * items.length);
      items.forEach((item, i) => data.set(item.input.data, i * per));
      const output = await this.inner.run({ data, shape: [items.length, ...items[0].input.shape.slice(1)] });
      const outPer = output.data.length / items.length;
      items.forEach((item, i) =>
        item.resolve({
          data: output.data.slice(i * outPer, (i + 1) * outPer),
          shape: [1, ...output.shape.slice(1)],
          forwardMs: output.forwardMs,
          batchSize: items.length,
        }),
      );
    } catch (err) {
      for (const item of items) item.reject(err);
    }
  }

  dispose(): void {
    for (const key of [...this.open.keys()]) this.flush(key);
    this.inner.dispose();
  }
}
