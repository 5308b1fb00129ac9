/** Loading the model a command runs, and saying so when it is the untrained default. */
import { onnxFallbackWarning } from '../model/engines/onnx-available.js';
import { loadModel, UNTRAINED_DEFAULTS } from '../model/load-model.js';
import type { LoadedModel, ModelTask } from '../model/loaded-model.js';
import { redactUrl } from '../model/weights/redact.js';
import type { FetchOptions } from '../model/weights/source.js';
import { chooseAvailableWeights, untrainedFix, type WeightsChoice } from '../model/weights/weights-choice.js';
import { fetchOptionsOf, loadSettings } from '../server/config.js';
import { modelOptions, type ModelFlags } from './options.js';

/** Mirror and download limits from the same variables as the server (CITYSEG_WEIGHTS_MIRROR, CITYSEG_DOWNLOAD_*). */
export function commandFetchOptions(env: NodeJS.ProcessEnv = process.env): FetchOptions {
  return fetchOptionsOf(loadSettings(env, ['weightsMirror', 'downloadIdleTimeoutMs', 'downloadMaxBytes']));
}

/**
 * The weights `segment` and `classify` run: the user's, else the arch's default preset fetched into the cache, else
 * (offline, failed download, `--weights none`) the seeded init. `labels` is the label set the user gave, if any.
 */
export function chooseCommandWeights(flags: ModelFlags, task: ModelTask, numClasses?: number, labels?: string): Promise<WeightsChoice> {
  return chooseAvailableWeights(
    // An empty CITYSEG_WEIGHTS counts as unset, as the server reads it.
    { task, arch: flags.arch, defaultArch: UNTRAINED_DEFAULTS[task].arch, numClasses, labels, weights: flags.weights || undefined },
    { ...commandFetchOptions(), cacheDir: flags.cacheDir },
  );
}

/** A classifier's transform as the start-up line says it (`, resize 232 → crop 224`); nothing for segmentation. */
function transformNote({ preprocessing }: LoadedModel): string {
  return preprocessing ? `, resize ${preprocessing.resizeShortSide} → crop ${preprocessing.cropSize}` : '';
}

function untrainedWarning(model: LoadedModel, why: string): string {
  return `cityseg: warning: ${why}: ${model.arch} is untrained (${model.weights.source}), its outputs are meaningless; ${untrainedFix(model.task, '--weights')}\n`;
}

/** Says on stderr when the model runs on TensorFlow.js because ONNX Runtime is missing, and how to install it. */
async function warnOnFallback(model: LoadedModel): Promise<void> {
  const warning = await onnxFallbackWarning(model.engine.backend);
  if (warning) process.stderr.write(`cityseg: warning: ${warning}\n`);
}

/**
 * Loads the model of a choice; says on stderr which weights it runs: the default preset (unless `quiet`), or why it
 * is untrained (always: an untrained model is never passed off as a trained one).
 */
export async function loadChosenModel(flags: ModelFlags, choice: WeightsChoice, task: ModelTask, fallbackNumClasses?: number, quiet = false): Promise<LoadedModel> {
  const options = modelOptions({ ...flags, arch: choice.arch, numClasses: choice.numClasses ?? flags.numClasses, weights: choice.weights }, fallbackNumClasses, task);
  const loaded = await loadModel({ ...options, fetch: commandFetchOptions() });
  const detail = choice.detail === undefined ? {} : { detail: choice.detail };
  const model = { ...loaded, weights: { ...loaded.weights, origin: choice.origin, ...detail } };
  if (choice.origin === 'default-preset' && !quiet) process.stderr.write(`cityseg: ${model.arch}: default weights ${model.weights.source}${transformNote(model)}\n`);
  if (choice.origin === 'none') process.stderr.write(untrainedWarning(model, '--weights none'));
  if (choice.origin === 'fallback' && choice.detail) process.stderr.write(untrainedWarning(model, redactUrl(choice.detail)));
  if (choice.origin === 'no-preset') process.stderr.write(untrainedWarning(model, `no --weights given and ${choice.detail}`));
  await warnOnFallback(model);
  return model;
}

/**
 * loadModel with the command's flags (no default preset: the commands that need exact weights, such as logits and
 * export-onnx); an untrained model is announced on stderr, never passed off as a trained one (even with --quiet).
 */
export async function loadCommandModel(flags: ModelFlags, fallbackNumClasses?: number, task?: ModelTask): Promise<LoadedModel> {
  const model = await loadModel({ ...modelOptions(flags, fallbackNumClasses, task), fetch: commandFetchOptions() });
  if (!model.weights.trained) {
    process.stderr.write(untrainedWarning(model, flags.weights ? `--weights ${flags.weights}` : 'no --weights given'));
  }
  await warnOnFallback(model);
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
