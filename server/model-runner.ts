/**
 * Runners of the model repository: each model (or, without a models file, the settings' two models together) runs
 * on its own runner — a piscina pool of its `workers` threads, or the main thread for 0 — and the inference queue
 * sends each job to its model's runner by lane.
 */
import { jobsPerEngine, type ServerConfig } from './config.js';
import { inProcessRunner, type InferenceJob, type InferenceResult } from './inference.js';
import type { JobRunner } from './inference-queue.js';
import { loadEntries, type LoadedEntry } from './load-models.js';
import { ModelRegistry } from './model-registry.js';
import type { ModelEntry } from './models-file.js';
import { registerEntries, warmUp } from './serve-models.js';
import { remoteModel, startWorkerPool, type WorkerEvents } from './worker-pool.js';

/** One runner: the models it holds (as descriptions, entries[i] for loaded[i]) and how many jobs it takes at once. */
export interface ModelRunner extends JobRunner<InferenceJob, InferenceResult> {
  /** The queue lane of its jobs: unique per runner, never reused across reloads. */
  readonly lane: string;
  /** Jobs at once: a batch's worth plus one per engine copy (config.ts jobsPerEngine), per thread. */
  readonly capacity: number;
  /** Engine copies of each model it holds (worker threads, or 1 on the main thread). */
  readonly copies: number;
  readonly entries: readonly ModelEntry[];
  /** Main-thread descriptions of its models (the engines live in the runner). */
  readonly loaded: readonly LoadedEntry[];
}

/** Jobs at once of a runner of this entry (the entries of one runner share `workers` and `maxBatch`). */
export function runnerCapacity(entry: Pick<ModelEntry, 'workers' | 'maxBatch'>): number {
  return Math.max(1, entry.workers) * jobsPerEngine(entry);
}

/**
 * Loads and warms `entries` on a new runner: a worker pool when their `workers` > 0 (each thread loads its own copy),
 * else on this thread. Rejects with the load's error (nothing is left running).
 */
export async function startModelRunner(
  entries: ModelEntry[],
  config: ServerConfig,
  lane: string,
  events: WorkerEvents = {},
): Promise<ModelRunner> {
  const [first] = entries;
  const facts = { lane, capacity: runnerCapacity(first), copies: Math.max(1, first.workers), entries };
  if (first.workers > 0) {
    const pool = startWorkerPool(config, events, entries);
    let loaded: LoadedEntry[];
    try {
      loaded = await pool.entries;
    } catch (error) {
      await pool.runner.close();
      throw error;
    }
    return { ...facts, loaded, run: (job, _lane, cancelled) => pool.runner.run(job, undefined, cancelled), close: () => pool.runner.close() };
  }
  const registry = new ModelRegistry();
  const loaded = await loadEntries(entries, config);
  try {
    for (const served of await registerEntries(registry, loaded, entries)) await warmUp(served, served.entry?.inferenceSize ?? config.inferenceSize);
  } catch (error) {
    registry.disposeAll();
    throw error;
  }
  const runner = inProcessRunner(registry);
  return {
    ...facts,
    // The registry's engines run here; the app's registry only describes them.
    loaded: loaded.map(({ model: { engine, ...rest }, labels }) => ({ model: remoteModel({ ...rest, backend: engine.backend }), labels })),
    run: (job) => runner.run(job),
    async close() {
      registry.disposeAll();
    },
  };
}

/**
 * The runners by lane, as one JobRunner for the inference queue and as its lanes' capacities. A job without a
 * lane (models handed over in code, tests) runs on `fallback`.
 */
export class RunnerSet implements JobRunner<InferenceJob, InferenceResult> {
  private readonly runners = new Map<string, ModelRunner>();
  private readonly fallback: JobRunner<InferenceJob, InferenceResult>;

  constructor(fallback: JobRunner<InferenceJob, InferenceResult>) {
    this.fallback = fallback;
  }

  add(runner: ModelRunner): void {
    this.runners.set(runner.lane, runner);
  }

  /** Takes the runner out and closes it (call once its lane is idle). */
  async release(lane: string): Promise<void> {
    const runner = this.runners.get(lane);
    this.runners.delete(lane);
    await runner?.close();
  }

  get(lane: string): ModelRunner | undefined {
    return this.runners.get(lane);
  }

  /** Jobs all runners take at once (at least 1): the queue's concurrency. */
  totalCapacity(): number {
    let total = 0;
    for (const runner of this.runners.values()) total += runner.capacity;
    return Math.max(1, total);
  }

  capacity(lane: string): number {
    return this.runners.get(lane)?.capacity ?? Number.POSITIVE_INFINITY;
  }

  run(job: InferenceJob, lane?: string, cancelled?: AbortSignal): Promise<InferenceResult> {
    const runner = lane === undefined ? undefined : this.runners.get(lane);
    return (runner ?? this.fallback).run(job, undefined, cancelled);
  }

  async close(): Promise<void> {
    const runners = [...this.runners.values()];
    this.runners.clear();
    await Promise.all(runners.map((runner) => runner.close()));
    await this.fallback.close();
  }
}
