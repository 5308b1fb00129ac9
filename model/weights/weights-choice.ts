/**
 * Which weights a model runs when the user names some, names a preset, names `none` or names nothing: a preset
 * supplies the architecture, class count and label set the user left out (and contradicts none they gave), and with
 * nothing named the architecture's default preset is used when it can be fetched, else the seeded init.
 */
import { ARCHITECTURES, type ArchName, type ModelTask } from '../architectures.js';
import type { WeightsOrigin } from '../loaded-model.js';
import { WeightsError } from './errors.js';
import { activePresets, defaultPresetFor, findPreset, isPresetName, type WeightsPreset } from './presets.js';
import { resolveWeights, type ResolveOptions } from './source.js';

/** The weights value that asks for the seeded untrained init explicitly. */
export const NO_WEIGHTS = 'none';

/** What the user gave (every field absent when not given). */
export interface WeightsRequest {
  task: ModelTask;
  arch?: ArchName;
  /** The architecture when neither the user nor a preset names one. */
  defaultArch: ArchName;
  numClasses?: number;
  /** Label set name or file (segmentation). */
  labels?: string;
  /** Path, URL, preset name or `none`. */
  weights?: string;
}

export interface WeightsChoice {
  /** From the user or the preset; absent with a checkpoint file → the checkpoint's (model/weights/fit.ts). */
  arch?: ArchName;
  /** From the user or the preset; absent → the caller's default (the label set's size). */
  numClasses?: number;
  /** From the user or the preset (segmentation); absent → the caller's default. */
  labels?: string;
  /** What to load: path, URL or preset name; absent → the seeded init. */
  weights?: string;
  origin: WeightsOrigin;
  detail?: string;
}

/** Label set names a preset can be compared with; a label file is only checked by its class count later. */
const NAMED_LABEL_SETS = new Set(['cityscapes', 'voc', 'imagenet']);

/** The first fact the user gave that the preset contradicts, as `<what>: <preset's> vs <user's>`; null when none. */
function contradiction(preset: WeightsPreset, given: Partial<Pick<WeightsRequest, 'arch' | 'numClasses' | 'labels' | 'task'>>): string | null {
  const task = ARCHITECTURES[preset.arch].task;
  if (given.task !== undefined && given.task !== task) return `it is a ${task} model, not a ${given.task} one`;
  if (given.arch !== undefined && given.arch !== preset.arch) return `it is for arch ${preset.arch}, not ${given.arch}`;
  if (given.numClasses !== undefined && given.numClasses !== preset.numClasses) {
    return `it has ${preset.numClasses} classes, not ${given.numClasses}`;
  }
  if (given.labels !== undefined && NAMED_LABEL_SETS.has(given.labels) && given.labels !== preset.labels) {
    return `its classes are the ${preset.labels} label set, not ${given.labels}`;
  }
  return null;
}

/**
 * Refuse loading a preset as a model it is not: throws WeightsError naming both values (the preset's and the
 * one asked for) when the arch, class count, label set or task differs.
 */
export function checkPresetFits(preset: WeightsPreset, arch?: ArchName, numClasses?: number, labels?: string, task?: ModelTask): void {
  const problem = contradiction(preset, { arch, numClasses, labels, task });
  if (problem !== null) throw new WeightsError(preset.name, `does not fit the model asked for: ${problem}`);
}

function untrained(request: WeightsRequest, origin: WeightsOrigin, detail?: string): WeightsChoice {
  return { arch: request.arch ?? request.defaultArch, numClasses: request.numClasses, labels: request.labels, origin, detail };
}

/**
 * The weights to load for `request`, without fetching anything. Throws WeightsError for an unknown preset name or
 * a preset that contradicts what the user gave.
 */
export function chooseWeights(request: WeightsRequest, presets: readonly WeightsPreset[] = activePresets()): WeightsChoice {
  const { weights } = request;
  if (weights === NO_WEIGHTS) return untrained(request, 'none');
  if (weights !== undefined && isPresetName(weights)) {
    const preset = findPreset(weights, presets);
    checkPresetFits(preset, request.arch, request.numClasses, request.labels, request.task);
    const labels = request.labels ?? (request.task === 'segmentation' ? preset.labels : undefined);
    return { arch: preset.arch, numClasses: preset.numClasses, labels, weights: preset.name, origin: 'given' };
  }
  // A path or URL: the checkpoint itself says its arch and class count; what the user gave is checked against it.
  if (weights !== undefined) return { ...untrained(request, 'given'), arch: request.arch, weights };

  const arch = request.arch ?? request.defaultArch;
  const preset = defaultPresetFor(arch, presets);
  if (!preset) return untrained(request, 'no-preset', `torchvision publishes no weights for ${arch}`);
  // Unlike a named preset, the default gives way to any label set other than its own (a label file included).
  const otherLabels = request.labels !== undefined && request.labels !== preset.labels;
  const problem = contradiction(preset, request) ?? (otherLabels ? `its classes are the ${preset.labels} label set, not ${request.labels}` : null);
  if (problem !== null) return untrained(request, 'no-preset', `the default weights ${preset.name} do not fit: ${problem}`);
  const labels = request.labels ?? (request.task === 'segmentation' ? preset.labels : undefined);
  return { arch, numClasses: preset.numClasses, labels, weights: preset.name, origin: 'default-preset' };
}

/**
 * chooseWeights, then the default preset fetched into the cache (verified); when that fails (offline, a failed or
 * refused download, an unwritable cache) the seeded init instead, with the reason in `detail`. Weights the user
 * named are not fetched here: loading them reports their own errors.
 */
export async function chooseAvailableWeights(request: WeightsRequest, opts: ResolveOptions = {}): Promise<WeightsChoice> {
  const presets = opts.presets ?? activePresets();
  const choice = chooseWeights(request, presets);
  if (choice.origin !== 'default-preset' || choice.weights === undefined) return choice;
  try {
    await resolveWeights(choice.weights, { ...opts, presets });
    return choice;
  } catch (error) {
    if (!(error instanceof WeightsError)) throw error;
    return untrained(request, 'fallback', `the default weights ${choice.weights} could not be had: ${error.message}`);
  }
}

/**
 * The one-line fix printed beside every "untrained" warning (server log, CLI): the flag of the task's weights, and
 * the two ways to have the default presets without internet.
 */
export function untrainedFix(task: ModelTask, flag = task === 'classification' ? '--classifier-weights' : '--weights'): string {
  return `give trained weights with ${flag} FILE.pth (or a preset name); without internet set CITYSEG_WEIGHTS_MIRROR, or copy a cache filled by \`cityseg weights fetch\``;
}
