/** Loading the model a command runs, and saying so when it is the untrained default. */
import type { Command } from 'commander';
import { loadModel } from '../model/load-model.js';
import type { LoadedModel, ModelTask } from '../model/loaded-model.js';
import { redactUrl } from '../model/weights/redact.js';
import type { FetchOptions } from '../model/weights/source.js';
import { chooseAvailableWeights, type WeightsChoice } from '../model/weights/weights-choice.js';
import { fetchOptionsOf, loadSettings } from '../server/config.js';
import { modelOptions, type ModelFlags } from './options.js';

/** Mirror and download limits from the same variables as the server (CITYSEG_WEIGHTS_MIRROR, CITYSEG_DOWNLOAD_*). */
export function commandFetchOptions(env: NodeJS.ProcessEnv = process.env): FetchOptions {
  return fetchOptionsOf(loadSettings(env, ['weightsMirror', 'downloadIdleTimeoutMs', 'downloadMaxBytes']));
}

/** A flag's value when the user gave it (flag or variable), undefined when it is commander's default. */
export function givenValue<T>(cmd: Command, name: string, value: T): T | undefined {
  return cmd.getOptionValueSource(name) === 'default' ? undefined : value;
}

/**
 * The weights `segment` and `classify` run: the user's, else the arch's default preset fetched into the cache, else
 * (offline, failed download, `--weights none`) the seeded init. `labels` is the label set the user gave, if any.
 */
export function chooseCommandWeights(flags: ModelFlags, cmd: Command, task: ModelTask, numClasses?: number, labels?: string): Promise<WeightsChoice> {
  return chooseAvailableWeights(
    // An empty CITYSEG_WEIGHTS counts as unset, as the server reads it.
    { task, arch: givenValue(cmd, 'arch', flags.arch), defaultArch: flags.arch, numClasses, labels, weights: flags.weights || undefined },
    { ...commandFetchOptions(), cacheDir: flags.cacheDir },
  );
}

function untrainedWarning(model: LoadedModel, why: string): string {
  return `cityseg: warning: ${why}: ${model.arch} is untrained (${model.weights.source}), its outputs are meaningless\n`;
}

/**
 * Loads the model of a choice; says on stderr which weights it runs: the default preset (unless `quiet`), or why it
 * is untrained (always: an untrained model is never passed off as a trained one).
 */
export async function loadChosenModel(flags: ModelFlags, choice: WeightsChoice, numClasses: number, quiet = false): Promise<LoadedModel> {
  const loaded = await loadModel({ ...modelOptions(flags, numClasses), arch: choice.arch, numClasses, weights: choice.weights, fetch: commandFetchOptions() });
  const detail = choice.detail === undefined ? {} : { detail: choice.detail };
  const model = { ...loaded, weights: { ...loaded.weights, origin: choice.origin, ...detail } };
  if (choice.origin === 'default-preset' && !quiet) process.stderr.write(`cityseg: ${model.arch}: default weights ${model.weights.source}\n`);
  if (choice.origin === 'none') process.stderr.write(untrainedWarning(model, '--weights none'));
  if (choice.origin === 'fallback' && choice.detail) process.stderr.write(untrainedWarning(model, redactUrl(choice.detail)));
  if (choice.origin === 'no-preset') process.stderr.write(untrainedWarning(model, `no --weights given and ${choice.detail}`));
  return model;
}

/**
 * loadModel with the command's flags (no default preset: the commands that need exact weights, such as logits and
 * export-onnx); an untrained model is announced on stderr, never passed off as a trained one (even with --quiet).
 */
export async function loadCommandModel(flags: ModelFlags, fallbackNumClasses?: number): Promise<LoadedModel> {
  const model = await loadModel({ ...modelOptions(flags, fallbackNumClasses), fetch: commandFetchOptions() });
  if (!model.weights.trained) {
    process.stderr.write(untrainedWarning(model, flags.weights ? `--weights ${flags.weights}` : 'no --weights given'));
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
