import { loadModel } from '../model/load-model.js';
import type { LoadedModel, LoadModelOptions } from '../model/loaded-model.js';
import { threadsPerEngine, type ServerConfig } from './config.js';

/** The models a configuration asks for: the segmentation model, then the classifier unless it is `none`. */
export function configuredModelOptions(config: ServerConfig): LoadModelOptions[] {
  const shared = {
    engine: config.engine,
    cacheDir: config.cacheDir,
    threads: threadsPerEngine(config),
    batching: { maxBatch: config.maxBatch, maxWaitMs: config.batchWaitMs },
  };
  const options: LoadModelOptions[] = [
    { task: 'segmentation', arch: config.arch, numClasses: config.numClasses, weights: config.weights, weightsKey: config.weightsKey, ...shared },
  ];
  if (config.classifierArch !== 'none') {
    options.push({
      arch: config.classifierArch,
      weights: config.classifierWeights,
      weightsKey: config.classifierWeightsKey,
      ...shared,
    });
  }
  return options;
}

/** Loads the configured models one after the other (each load is memory-heavy while it folds weights). */
export async function loadConfiguredModels(
  config: ServerConfig,
  load: (opts: LoadModelOptions) => Promise<LoadedModel> = loadModel,
): Promise<LoadedModel[]> {
  const loaded: LoadedModel[] = [];
  try {
    for (const opts of configuredModelOptions(config)) loaded.push(await load(opts));
  } catch (error) {
    for (const model of loaded) model.engine.dispose();
    throw error;
  }
  return loaded;
}
