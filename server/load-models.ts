import { loadModel, UNTRAINED_DEFAULTS } from '../model/load-model.js';
import type { LoadedModel, LoadModelOptions, WeightsOrigin } from '../model/loaded-model.js';
import { chooseAvailableWeights } from '../model/weights/weights-choice.js';
import { labelSetNameForClassCount } from '../segmentation/labels/for-class-count.js';
import { labelSetFor } from '../segmentation/labels/index.js';
import { fetchOptionsOf, threadsPerEngine, type ServerConfig } from './config.js';
import { entriesFromSettings, type ModelEntry } from './models-file.js';

/** One model to load, with how its weights were chosen (reported by /v1/models and the start-up log). */
export interface ModelPlan {
  options: LoadModelOptions;
  origin: WeightsOrigin;
  detail?: string;
  /** The label set chosen for a segmentation model (the entry's, else its preset's); absent → by class count. */
  labels?: string;
}

/** A loaded model and the name of its label set (segmentation). */
export interface LoadedEntry {
  model: LoadedModel;
  labels?: string;
}

/**
 * How to load one repository entry. With no weights given (the settings' models), the arch's default preset,
 * fetched into the cache now; where it cannot be had, the seeded init (origin `fallback`). A preset or checkpoint
 * supplies the arch and class count left unset (and checks those set); untrained, the class count is the label
 * set's, else the task's default.
 */
export async function planModel(entry: ModelEntry, config: ServerConfig): Promise<ModelPlan> {
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

/** Loads entries one after the other (each load is memory-heavy while it folds weights); on failure none stay loaded. */
export async function loadEntries(
  entries: readonly ModelEntry[],
  config: ServerConfig,
  load: (opts: LoadModelOptions) => Promise<LoadedModel> = loadModel,
): Promise<LoadedEntry[]> {
  const loaded: LoadedEntry[] = [];
  try {
    for (const entry of entries) {
      const plan = await planModel(entry, config);
      const model = await load(plan.options);
      const detail = plan.detail === undefined ? {} : { detail: plan.detail };
      const labels = model.task === 'segmentation' ? (plan.labels ?? labelSetNameForClassCount(model.numClasses)) : undefined;
      // The descriptor names the label set served: the entry's, else the weights', else the one of the class count.
      loaded.push({ model: { ...model, labels: labels ?? model.labels, weights: { ...model.weights, origin: plan.origin, ...detail } }, labels });
    }
  } catch (error) {
    for (const { model } of loaded) model.engine.dispose();
    throw error;
  }
  return loaded;
}

/** Loads the models the single-model settings ask for. */
export async function loadConfiguredModels(
  config: ServerConfig,
  load: (opts: LoadModelOptions) => Promise<LoadedModel> = loadModel,
): Promise<LoadedModel[]> {
  return (await loadEntries(entriesFromSettings(config), config, load)).map(({ model }) => model);
}
