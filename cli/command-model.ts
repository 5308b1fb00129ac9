/** Loading the model a command runs, and saying so when it is the untrained default. */
import { loadModel } from '../model/load-model.js';
import type { LoadedModel } from '../model/loaded-model.js';
import { modelOptions, type ModelFlags } from './options.js';

/**
 * loadModel with the command's flags; an untrained model (no --weights) is announced on stderr, never
 * passed off as a trained one (the warning stays even with --quiet).
 */
export async function loadCommandModel(flags: ModelFlags): Promise<LoadedModel> {
  const model = await loadModel(modelOptions(flags));
  if (!model.weights.trained) {
    process.stderr.write(
      `cityseg: warning: no --weights given: ${model.arch} is untrained (${model.weights.source}), its outputs are meaningless\n`,
    );
  }
  return model;
}

/** Runs `fn` with the loaded model and frees its engine afterwards, whatever happens. */
export async function withModel<T>(model: LoadedModel, fn: (model: LoadedModel) => Promise<T>): Promise<T> {
  try {
    return await fn(model);
  } finally {
    model.engine.dispose();
  }
}
