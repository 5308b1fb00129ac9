import { loadModel, UNTRAINED_DEFAULTS } from '../model/load-model.js';
import type { LoadedModel, LoadModelOptions, ModelTask, WeightsOrigin } from '../model/loaded-model.js';
import { chooseAvailableWeights, type WeightsChoice } from '../model/weights/weights-choice.js';
import { labelSetFor } from '../segmentation/labels/index.js';
import { fetchOptionsOf, threadsPerEngine, type ServerConfig } from './config.js';

/** One model to load, with how its weights were chosen (reported by /v1/models and the start-up log). */
export interface ModelPlan {
  options: LoadModelOptions;
  origin: WeightsOrigin;
  detail?: string;
}

function planOf(choice: WeightsChoice, task: ModelTask, numClasses: number | undefined, shared: Omit<LoadModelOptions, 'arch' | 'numClasses'>): ModelPlan {
  return { options: { ...shared, task, arch: choice.arch, numClasses, weights: choice.weights }, origin: choice.origin, detail: choice.detail };
}

/**
 * The models a configuration asks for: the segmentation model, then the classifier unless it is `none`. With no
 * weights configured, each uses its architecture's default preset, fetched into the cache now; where it cannot be
 * had, the seeded init (origin `fallback`). A preset or checkpoint supplies the arch and class count left unset (and
 * checks those set); untrained, the class count is the label set's, else 19.
 */
export async function planConfiguredModels(config: ServerConfig): Promise<ModelPlan[]> {
  const fetch = fetchOptionsOf(config);
  const shared = {
    engine: config.engine,
    cacheDir: config.cacheDir,
    threads: threadsPerEngine(config),
    batching: { maxBatch: config.maxBatch, maxWaitMs: config.batchWaitMs },
    fetch,
  };
  const resolveOptions = { ...fetch, cacheDir: config.cacheDir };
  const segmentation = await chooseAvailableWeights(
    { task: 'segmentation', arch: config.arch, defaultArch: UNTRAINED_DEFAULTS.segmentation.arch, numClasses: config.numClasses, labels: config.labels, weights: config.weights },
    resolveOptions,
  );
  // Untrained without a class count: the label set's (a checkpoint or preset says its own).
  const labelCount = segmentation.weights === undefined && segmentation.labels !== undefined ? (await labelSetFor(segmentation.labels)).classes.length : undefined;
  const plans = [planOf(segmentation, 'segmentation', segmentation.numClasses ?? labelCount, { ...shared, weightsKey: config.weightsKey, precision: config.precision, quantization: config.quantization })];
  if (config.classifierArch !== 'none') {
    const classifier = await chooseAvailableWeights(
      { task: 'classification', arch: config.classifierArch, defaultArch: UNTRAINED_DEFAULTS.classification.arch, weights: config.classifierWeights },
      resolveOptions,
    );
    plans.push(planOf(classifier, 'classification', classifier.numClasses, { ...shared, weightsKey: config.classifierWeightsKey }));
  }
  return plans;
}

/** Loads the configured models one after the other (each load is memory-heavy while it folds weights). */
export async function loadConfiguredModels(
  config: ServerConfig,
  load: (opts: LoadModelOptions) => Promise<LoadedModel> = loadModel,
): Promise<LoadedModel[]> {
  const loaded: LoadedModel[] = [];
  try {
    for (const plan of await planConfiguredModels(config)) {
      const model = await load(plan.options);
      const detail = plan.detail === undefined ? {} : { detail: plan.detail };
      loaded.push({ ...model, weights: { ...model.weights, origin: plan.origin, ...detail } });
    }
  } catch (error) {
    for (const model of loaded) model.engine.dispose();
    throw error;
  }
  return loaded;
}
