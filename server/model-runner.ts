/**
 * Model runners: each loads and warms its models and runs their jobs. Each model of the repository (or, without a
 * models file, the settings' two models together) runs on its own runner — a piscina pool of its `workers`
 * threads, each loading its own copies, or the main thread for 0 — and the inference queue sends each job to its
 * model's runner by lane.
 */
import { classifierTransformOf } from '../model/descriptor.js';
import { minInputSide } from '../model/fastseg.js';
import { loadModel, UNTRAINED_DEFAULTS } from '../model/load-model.js';
import type { LoadedModel, LoadModelOptions, WeightsOrigin } from '../model/loaded-model.js';
import { chooseAvailableWeights } from '../model/weights/weights-choice.js';
import { labelSetNameForClassCount } from '../segmentation/labels/for-class-count.js';
import { labelSetFor } from '../segmentation/labels/index.js';
import { inferenceDims, type InferenceSize } from '../segmentation/preprocess.js';
import { fetchOptionsOf, jobsPerEngine, threadsPerEngine, type ServerConfig } from './config.js';
import { inProcessRunner, type InferenceJob, type InferenceResult } from './inference.js';
import type { JobRunner } from './inference-queue.js';
import { ModelRegistry, servedModels, type ServedModel } from './model-registry.js';
import { entriesFromSettings, type ModelEntry } from './models-file.js';
import { remoteModel, startWorkerPool, type WorkerEvents } from './worker-pool.js';

/** One model to load, with how its weights were chosen (reported by /v1/models and the start-up log). */
interface ModelPlan {
  options: LoadModelOptions;
  origin: WeightsOrigin;
  detail?: string;
  /** The label set chosen for a segmentation model (the entry's, else its preset's); absent → by class count. */
  labels?: string;
}

/**
 * How to load one repository entry. With no weights given (the settings' models), the arch's default preset,
 * fetched into the cache now; where it cannot be had, the seeded init (origin `fallback`). A preset or checkpoint
 * supplies the arch and class count left unset (and checks those set); untrained, the class count is the label
 * set's, else the task's default.
 */
async function planModel(entry: ModelEntry, config: ServerConfig): Promise<ModelPlan> {
  const fetch = fetchOptionsOf(config);
  const task = entry.task ?? 'segmentation';
  const choice = await chooseAvailableWeights(
    { task, arch: entry.arch, defaultArch: UNTRAINED_DEFAULTS[task].arch, numClasses: entry.numClasses, labels: entry.labels, weights: entry.weights },
    { ...fetch, cacheDir: config.cacheDir },
  );
  // Untrained without a class count: the label set's (a checkpoint or preset says its own).
  const labelCount = task === 'segmentation' && choice.weights === undefined && choice.labels !== undefined ? (await labelSetFor(choice.labels)).classes.length : undefined;
  const options: LoadModelOptions = {
    // A checkpoint of unknown arch may be either task: the checkpoint says which.
    task: entry.task,
    arch: choice.arch,
    numClasses: choice.numClasses ?? labelCount,
    weights: choice.weights,
    weightsKey: entry.weightsKey,
    precision: entry.precision,
    quantization: entry.quantization,
    engine: entry.engine,
    executionProvider: config.executionProvider,
    cacheDir: config.cacheDir,
    threads: threadsPerEngine({ threads: entry.threads, workers: entry.workers }),
    batching: { maxBatch: entry.maxBatch, maxWaitMs: config.batchWaitMs },
    fetch,
    id: entry.name,
  };
  return { options, origin: choice.origin, detail: choice.detail, labels: task === 'segmentation' ? choice.labels : undefined };
}

/**
 * Loads entries one after the other (each load is memory-heavy while it folds weights); on failure none stay loaded.
 * A segmentation model's `labels` names the label set it is served with.
 */
export async function loadEntries(
  entries: readonly ModelEntry[],
  config: ServerConfig,
  load: (opts: LoadModelOptions) => Promise<LoadedModel> = loadModel,
): Promise<LoadedModel[]> {
  const loaded: LoadedModel[] = [];
  try {
    for (const entry of entries) {
      const plan = await planModel(entry, config);
      const model = await load(plan.options);
      const detail = plan.detail === undefined ? {} : { detail: plan.detail };
      const labels = model.task === 'segmentation' ? (plan.labels ?? labelSetNameForClassCount(model.numClasses)) : undefined;
      // The descriptor names the label set served: the entry's, else the weights', else the one of the class count.
      loaded.push({ ...model, labels: labels ?? model.labels, weights: { ...model.weights, origin: plan.origin, ...detail } });
    }
  } catch (error) {
    for (const model of loaded) model.engine.dispose();
    throw error;
  }
  return loaded;
}

/** Loads the models the single-model settings ask for. */
export async function loadConfiguredModels(
  config: ServerConfig,
  load: (opts: LoadModelOptions) => Promise<LoadedModel> = loadModel,
): Promise<LoadedModel[]> {
  return loadEntries(entriesFromSettings(config), config, load);
}

/** Warm-up frames are shaped like a Cityscapes frame (2048x1024) at the configured inference size. */
const REFERENCE_FRAME = { width: 2048, height: 1024 };

/**
 * The NHWC input shape of a model's warm-up inference, at least the model's minimum side (fastseg's 385); throws
 * InvalidArgumentError when `size` is below that minimum, so such a server stops at start naming it.
 */
function warmUpShape(served: ServedModel, size: InferenceSize): number[] {
  if (served.model.task === 'classification') {
    const { cropSize } = classifierTransformOf(served.model);
    return [1, cropSize, cropSize, 3];
  }
  const { width, height } = inferenceDims(REFERENCE_FRAME.width, REFERENCE_FRAME.height, size, minInputSide(served.model.arch));
  return [1, height, width, 3];
}

/** One dummy forward pass, so the first real request does not pay for kernel set-up and allocation. */
export async function warmUp(served: ServedModel, size: InferenceSize): Promise<number> {
  const shape = warmUpShape(served, size);
  const started = performance.now();
  await served.model.engine.run({ data: new Float32Array(shape.reduce((a, b) => a * b, 1)), shape });
  return performance.now() - started;
}

/**
 * Loads and warms `entries` on this thread into a registry of their own (what a worker thread, or a runner of 0
 * workers, runs jobs with). Rejects with the load's error, nothing left loaded.
 */
export async function loadOnThisThread(entries: readonly ModelEntry[], config: ServerConfig): Promise<{ registry: ModelRegistry; loaded: LoadedModel[] }> {
  const registry = new ModelRegistry();
  const loaded = await loadEntries(entries, config);
  try {
    registry.replace(await servedModels(loaded, entries));
    for (const served of registry.list()) await warmUp(served, served.entry?.inferenceSize ?? config.inferenceSize);
  } catch (error) {
    for (const model of loaded) model.engine.dispose();
    throw error;
  }
  return { registry, loaded };
}

/** One runner: the models it holds (as descriptions, entries[i] for loaded[i]) and how many jobs it takes at once. */
export interface ModelRunner extends JobRunner<InferenceJob, InferenceResult> {
  /** The queue lane of its jobs: unique per runner, never reused across reloads. */
  readonly lane: string;
  /** Jobs at once: a batch's worth plus one per engine copy (config.ts jobsPerEngine), per thread. */
  readonly capacity: number;
  readonly entries: readonly ModelEntry[];
  /** Main-thread descriptions of its models (the engines live in the runner). */
  readonly loaded: readonly LoadedModel[];
}

/** Jobs at once of a runner of this entry, or of the settings' models (the entries of one runner share `workers` and `maxBatch`). */
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
  const facts = { lane, capacity: runnerCapacity(first), entries };
  if (first.workers > 0) {
    const pool = startWorkerPool(config, events, entries);
    let loaded: LoadedModel[];
    try {
      loaded = await pool.models;
    } catch (error) {
      await pool.runner.close();
      throw error;
    }
    return { ...facts, loaded, run: (job, _lane, cancelled) => pool.runner.run(job, undefined, cancelled), close: () => pool.runner.close() };
  }
  const { registry, loaded } = await loadOnThisThread(entries, config);
  const runner = inProcessRunner(registry);
  return {
    ...facts,
    // The registry's engines run here; the app's registry only describes them.
    loaded: loaded.map(({ engine, ...rest }) => remoteModel({ ...rest, backend: engine.backend })),
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
