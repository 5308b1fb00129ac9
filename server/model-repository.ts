/**
 * The model repository at run time: loads the models file's entries (or the settings' two models) onto their
 * runners, publishes them in the registry, the model-info metric and the log, sets the memory budget from what
 * they take, and reloads the file without a restart. A reload loads and warms new and changed entries before they
 * take traffic, keeps unchanged ones as they are, and releases removed or replaced ones once their leased requests
 * and queued jobs are done; if anything fails, the old set keeps serving.
 */
import type { FastifyInstance } from 'fastify';
import { isOnnxFallback, onnxFallbackMessage } from '../model/engines/onnx-available.js';
import type { LoadedModel } from '../model/loaded-model.js';
import { redactUrl } from '../model/weights/redact.js';
import { untrainedFix } from '../model/weights/weights-choice.js';
import { labelSetNameForClassCount } from '../segmentation/labels/for-class-count.js';
import { labelSetFor } from '../segmentation/labels/index.js';
import { formatBytes, requestCapacity } from './memory-budget.js';
import { arenaKey, servedModels, type ModelRegistry, type ServedModel } from './model-registry.js';
import { startModelRunner, warmUp, type ModelRunner, type RunnerSet } from './model-runner.js';
import { checkDefaults, entriesFromSettings, fingerprintOf, ModelsFileError, readModelsFile, type ModelEntry } from './models-file.js';
import type { WorkerEvents } from './worker-pool.js';

/** What a reload did, by model name. */
export interface ReloadSummary {
  added: string[];
  changed: string[];
  removed: string[];
  kept: string[];
}

/** A reload that could not happen (no models file configured); the old set keeps serving. */
export class NoModelsFileError extends Error {
  constructor() {
    super('no models file is configured (--models, CITYSEG_MODELS): there is nothing to reload');
    this.name = 'NoModelsFileError';
  }
}

/** One runner's worth of served models, with what decides whether a reload keeps it. */
interface Loaded {
  fingerprint: string;
  runner: ModelRunner;
  served: ServedModel[];
  /** Bytes the process grew by while the runner loaded and warmed, less what requests took meanwhile. */
  memory: number;
}

/** The first line of an error's message (a worker's error may carry more). */
function oneLine(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  return (cause instanceof Error ? cause.message : String(cause)).split('\n')[0];
}

export class ModelRepository {
  private readonly app: FastifyInstance;
  private readonly runners: RunnerSet;
  /** The file's entries read before the server listened (start() serves them). */
  private readonly initial?: ModelEntry[];
  private readonly current = new Map<string, Loaded>();
  /** Runners out of the registry but not released yet: their memory still counts. */
  private readonly retiring = new Set<Loaded>();
  /** The process's RSS before any model was loaded (measured at start, with no request running). */
  private processBytes = 0;
  private generation = 0;
  /** Start and reloads run one after the other. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(app: FastifyInstance, runners: RunnerSet, initial?: ModelEntry[]) {
    this.app = app;
    this.runners = runners;
    this.initial = initial;
  }

  /**
   * Loads and warms the models, publishes them, sets the memory budget and marks the service ready. Throws
   * ModelsFileError naming the entry whose weights or labels could not be loaded (models file), or the load's error.
   */
  start(): Promise<void> {
    return this.serialised(async () => {
      const { config, readiness } = this.app;
      this.processBytes = process.memoryUsage().rss;
      if (config.models === undefined) await this.startSettingsModels();
      else await this.apply(this.initial ?? (await readModelsFile(config.models, config)));
      readiness.markReady();
    });
  }

  /**
   * Reads the models file again and applies it (see the file's comment). Resolves with what changed; rejects with
   * ModelsFileError (the old set keeps serving) or NoModelsFileError. Counted in cityseg_model_reloads_total.
   */
  reload(): Promise<ReloadSummary> {
    return this.serialised(async () => {
      const { config, metrics } = this.app;
      if (config.models === undefined) throw new NoModelsFileError();
      try {
        const summary = await this.apply(await readModelsFile(config.models, config), { keepRoomForRequests: true });
        metrics.modelReloads.inc({ result: 'success' });
        this.app.log.info({ ...summary, file: config.models }, 'models file reloaded');
        return summary;
      } catch (error) {
        metrics.modelReloads.inc({ result: 'failure' });
        this.app.log.error({ file: config.models, err: error }, `models file reload failed, the previous models keep serving: ${oneLine(error)}`);
        throw error;
      }
    });
  }

  /** Resolves once no start or reload is loading or warming models. */
  settled(): Promise<void> {
    return this.chain.then(() => undefined);
  }

  private serialised<T>(work: () => Promise<T>): Promise<T> {
    const run = this.chain.then(work);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private workerEvents: WorkerEvents = {
    error: (error) => this.app.log.error({ err: error }, 'an inference worker failed; piscina replaces it'),
    terminated: (reason) => {
      this.app.metrics.workerTerminations.inc();
      this.app.log.warn({ reason }, 'an inference worker was terminated and is being replaced');
    },
  };

  /**
   * Starts a runner, measuring what it added to the process: the RSS growth less the growth of what the memory
   * budget holds for requests meanwhile (a reload under load must not count the requests' memory as the models').
   */
  private async startMeasured(entries: ModelEntry[], lane: string): Promise<{ runner: ModelRunner; memory: number }> {
    const { config, budget } = this.app;
    const rss = process.memoryUsage().rss;
    const held = budget.reserved;
    const runner = await startModelRunner(entries, config, lane, this.workerEvents);
    const requests = Math.max(0, budget.reserved - held);
    return { runner, memory: Math.max(0, process.memoryUsage().rss - rss - requests) };
  }

  /** The process with its models and no request: the start's RSS, plus every serving or retiring runner's memory. */
  private baseline(): number {
    let bytes = this.processBytes;
    for (const loaded of this.current.values()) bytes += loaded.memory;
    for (const loaded of this.retiring) bytes += loaded.memory;
    return bytes;
  }

  /**
   * Throws ModelsFileError when the set `entries` names (the `started` runners and the current ones it keeps) would
   * leave the requests less than MIN_REQUEST_CAPACITY of the memory budget once the models it replaces are released.
   */
  private checkRoomForRequests(file: string, entries: ModelEntry[], started: { name: string; loaded: Loaded }[]): void {
    const { budgetSource } = this.app;
    let baseline = this.processBytes;
    for (const entry of entries) baseline += (started.find((s) => s.name === entry.name)?.loaded ?? this.current.get(entry.name!)!).memory;
    const capacity = roomForRequests(this.app, baseline);
    if (capacity >= MIN_REQUEST_CAPACITY) return;
    throw new ModelsFileError(
      file,
      `its models need a baseline of ${formatBytes(baseline)}, which leaves ${formatBytes(capacity)} of the ${formatBytes(budgetSource.bytes)} memory budget ` +
        `(${budgetSource.source}) for requests, under the ${formatBytes(MIN_REQUEST_CAPACITY)} a request needs: raise CITYSEG_MEMORY_BUDGET or serve fewer models`,
    );
  }

  /** Served models of a started runner, with their label sets. */
  private servedOf(runner: ModelRunner): Promise<ServedModel[]> {
    return servedModels(runner.loaded, runner.entries, runner.lane);
  }

  /** The settings' two models on one runner, exactly as before the repository existed. */
  private async startSettingsModels(): Promise<void> {
    const { config } = this.app;
    const { runner, memory } = await this.startMeasured(entriesFromSettings(config), `settings#${++this.generation}`);
    let served: ServedModel[];
    try {
      served = await this.servedOf(runner);
    } catch (error) {
      await runner.close();
      throw error;
    }
    this.publish([{ name: 'settings', loaded: { fingerprint: '', runner, served, memory } }], []);
  }

  /**
   * Loads what is new or changed in `entries`, then swaps the set at once and retires what left it. With
   * `keepRoomForRequests` (a reload), a set whose models would leave the memory budget no room for requests is
   * refused with ModelsFileError and the old set keeps serving; a start serves it not ready instead (resetBudget).
   */
  private async apply(entries: ModelEntry[], { keepRoomForRequests = false } = {}): Promise<ReloadSummary> {
    const { config } = this.app;
    const file = config.models ?? '';
    const summary: ReloadSummary = { added: [], changed: [], removed: [], kept: [] };
    const fingerprints = new Map<string, string>();
    for (const entry of entries) fingerprints.set(entry.name!, await fingerprintOf(entry));
    const started: { name: string; loaded: Loaded }[] = [];
    try {
      for (const entry of entries) {
        const name = entry.name!;
        const old = this.current.get(name);
        if (old?.fingerprint === fingerprints.get(name)) {
          summary.kept.push(name);
          continue;
        }
        (old ? summary.changed : summary.added).push(name);
        let measured: { runner: ModelRunner; memory: number };
        try {
          measured = await this.startMeasured([entry], `${name}#${++this.generation}`);
        } catch (error) {
          throw new ModelsFileError(file, `model "${name}": ${oneLine(error)}`, { cause: error });
        }
        const { runner, memory } = measured;
        started.push({ name, loaded: { fingerprint: fingerprints.get(name)!, runner, served: [], memory } });
        try {
          started[started.length - 1].loaded.served = await this.servedOf(runner);
        } catch (error) {
          throw new ModelsFileError(file, `model "${name}": ${oneLine(error)}`, { cause: error });
        }
      }
      // A checkpoint tells its task only once loaded: the defaults are checked again with every task known.
      const served = (name: string) => started.find((s) => s.name === name)?.loaded.served ?? this.current.get(name)!.served;
      try {
        checkDefaults(entries.map((entry) => ({ ...entry, task: served(entry.name!)[0].model.task })));
      } catch (error) {
        throw new ModelsFileError(file, oneLine(error));
      }
      if (keepRoomForRequests) this.checkRoomForRequests(file, entries, started);
    } catch (error) {
      await Promise.all(started.map(({ loaded }) => loaded.runner.close()));
      throw error;
    }
    const names = new Set(entries.map((entry) => entry.name!));
    const retiring: Loaded[] = [];
    for (const [name, loaded] of this.current) {
      if (!names.has(name)) summary.removed.push(name);
      if (!names.has(name) || started.some((s) => s.name === name)) retiring.push(loaded);
    }
    const order = entries.map((entry) => entry.name!);
    this.publish(started, retiring, order);
    return summary;
  }

  /**
   * Makes `started` serve (runners first, so a request that finds a model finds its runner), in `order` when
   * given, takes `retiring` out of the registry and releases them once they are idle.
   */
  private publish(started: { name: string; loaded: Loaded }[], retiring: Loaded[], order?: string[]): void {
    const { models, inference } = this.app;
    for (const { loaded } of started) this.runners.add(loaded.runner);
    for (const old of retiring) {
      for (const [name, loaded] of this.current) if (loaded === old) this.current.delete(name);
      this.retiring.add(old);
    }
    for (const { name, loaded } of started) this.current.set(name, loaded);
    const names = order ?? [...this.current.keys()];
    models.replace(names.flatMap((name) => this.current.get(name)?.served ?? []));
    inference.queue.setConcurrency(this.runners.totalCapacity());
    // A replaced model's series may have the same labels as its successor's: out first, then in.
    for (const old of retiring) for (const served of old.served) unpublishModel(this.app, served);
    for (const { loaded } of started) for (const served of loaded.served) publishModel(this.app, served);
    resetBudget(this.app, this.baseline());
    for (const old of retiring) void this.retire(old);
  }

  /** Releases a runner once no request holds its models and no job of its lane waits or runs. */
  private async retire(old: Loaded): Promise<void> {
    const { models, inference } = this.app;
    for (const served of old.served) await models.unleased(served);
    await inference.queue.laneIdle(old.runner.lane);
    for (const served of old.served) this.app.budget.forgetArena(arenaKey(served));
    await this.runners.release(old.runner.lane);
    this.retiring.delete(old);
    inference.queue.setConcurrency(this.runners.totalCapacity());
    resetBudget(this.app, this.baseline());
    this.app.log.info({ models: old.served.map((served) => served.model.id), lane: old.runner.lane }, 'released a model no longer served');
  }
}

/**
 * Adds models to a registry; segmentation models get the label set named by `labels` (checked against their class
 * count), or without one the built-in set of their class count (a preset's: 21 → voc).
 */
async function registerModels(registry: ModelRegistry, models: LoadedModel[], labels: string | undefined): Promise<ServedModel[]> {
  const served: ServedModel[] = [];
  for (const model of models) {
    const labelSet = model.task === 'segmentation' ? await labelSetFor(labels ?? labelSetNameForClassCount(model.numClasses)) : undefined;
    served.push(registry.add(model, labelSet));
  }
  return served;
}

/** The start-up line for a model: where trained weights came from, or why it is untrained. */
function weightsMessage(model: LoadedModel): string {
  const { trained, origin, detail } = model.weights;
  const source = redactUrl(model.weights.source);
  if (trained) return `model ${model.id} ready: trained weights from ${source}${origin === 'default-preset' ? ' (the default)' : ''}`;
  const why = origin === 'none' ? 'no trained weights were given (weights none, or none in its models-file entry)' : detail;
  return `model ${model.id} ready: UNTRAINED (${source})${why ? `: ${why}` : ''}; its predictions are meaningless: ${untrainedFix(model.task)}`;
}

/**
 * Registers loaded models with a running app, warms each one (unless the runner has warmed its own
 * copies, as worker threads do), publishes it in the model-info metric, and then marks the app ready.
 */
export async function serveModels(app: FastifyInstance, models: LoadedModel[], opts: { warm?: boolean } = {}): Promise<void> {
  const { config, models: registry, readiness } = app;
  for (const served of await registerModels(registry, models, config.labels)) {
    const warmMs = opts.warm === false ? undefined : await warmUp(served, config.inferenceSize);
    publishModel(app, served, warmMs);
  }
  resetBudget(app);
  readiness.markReady();
}

/** The labels of cityseg_model_info for a model (one series per served model). */
function infoLabels({ model }: ServedModel) {
  return { id: model.id, model: model.id, task: model.task, arch: model.arch, engine: model.engineName, backend: model.engine.backend, trained: String(model.weights.trained) };
}

/** Takes a released model out of the model-info metric. */
export function unpublishModel(app: FastifyInstance, served: ServedModel): void {
  app.metrics.modelInfo.remove(infoLabels(served));
}

/** A model now serving: in the model-info metric, and its start-up line in the log (trained or why not). */
export function publishModel(app: FastifyInstance, served: ServedModel, warmMs?: number): void {
  const { config, metrics } = app;
  const { model } = served;
  const trained = model.weights.trained;
  metrics.modelInfo.set(infoLabels(served), 1);
  const message = weightsMessage(model);
  app.log[trained ? 'info' : 'warn'](
    {
      model: model.id,
      task: model.task,
      arch: model.arch,
      engine: model.engineName,
      backend: model.engine.backend,
      trained,
      weightsSource: redactUrl(model.weights.source),
      weightsOrigin: model.weights.origin,
      sha256: model.weights.sha256,
      workers: served.entry?.workers ?? config.workers,
      ...(warmMs === undefined ? {} : { warmUpMs: Math.round(warmMs) }),
    },
    message,
  );
  if (isOnnxFallback(model.engine.backend)) app.log.warn({ model: model.id, backend: model.engine.backend }, onnxFallbackMessage());
}

/** Capacity under which no request could be admitted (a request's fixed working memory and a small body). */
const MIN_REQUEST_CAPACITY = 16 * 1024 ** 2;

/** Bytes of the memory budget left for requests beside a `baseline` RSS and the ONNX Runtime arenas held. */
function roomForRequests(app: FastifyInstance, baseline: number): number {
  return requestCapacity(app.budgetSource.bytes, baseline) - app.budget.arenaBytes;
}

/**
 * Sets the requests' share of the memory budget from the memory the models need: `baseline` is the process with its
 * models loaded and warmed and no request (server/model-repository.ts keeps it: the start-up RSS plus what each
 * reload's models added; by default the RSS now, right for a start with nothing else running). The arenas the
 * budget charged stay out of the capacity. A capacity too small for any request makes /readyz fail, with a
 * log line saying why, instead of a ready server answering every request 503.
 */
export function resetBudget(app: FastifyInstance, baseline = process.memoryUsage().rss): void {
  const { budget, budgetSource, readiness } = app;
  budget.setCapacity(roomForRequests(app, baseline));
  const facts = { memoryBudget: budgetSource.bytes, budgetSource: budgetSource.source, baselineBytes: baseline, requestCapacity: budget.capacity };
  const summary = `memory budget ${formatBytes(budgetSource.bytes)} (${budgetSource.source}): ${formatBytes(budget.capacity)} for requests after a baseline of ${formatBytes(baseline)}`;
  if (budget.capacity < MIN_REQUEST_CAPACITY) {
    const reason = `the memory budget leaves ${formatBytes(budget.capacity)} for requests (models need ${formatBytes(baseline)} of ${formatBytes(budgetSource.bytes)}): raise CITYSEG_MEMORY_BUDGET or serve fewer models`;
    readiness.setMemoryShortage(reason);
    app.log.error(facts, `not ready: ${reason}`);
    return;
  }
  readiness.setMemoryShortage(null);
  app.log.info(facts, summary);
}
