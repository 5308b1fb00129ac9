/**
 * The commands' flags. Every flag that is also a server setting is built from server/config.ts's SETTINGS entry:
 * the same flag, environment variable, parser, range and default as `cityseg serve` and the HTTP service.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { ARCH_NAMES, ARCHITECTURES, isArchName } from '../model/architectures.js';
import { untrainedNumClasses } from '../model/descriptor.js';
import type { ExecutionProvider } from '../model/engines/execution-providers.js';
import type { ArchName, LoadModelOptions, ModelTask } from '../model/loaded-model.js';
import type { Precision } from '../model/quantize/precision.js';
import { CALLER_CHOSEN_MAX_PIXELS } from '../segmentation/decode.js';
import type { InferenceSize } from '../segmentation/preprocess.js';
import { SETTINGS, type SettingName } from '../server/config.js';

/** No pixel limit beyond sharp's own: the CLI reads files the user chose, not uploads. */
export const CLI_MAX_PIXELS = CALLER_CHOSEN_MAX_PIXELS;

export function parseArch(value: string): ArchName {
  if (!isArchName(value)) throw new InvalidArgumentError(`expected one of ${ARCH_NAMES.join(', ')}`);
  return value;
}

export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

/** A number above 0 and at most 1000 (a sampling rate in frames per second). */
export function parsePositiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n > 1000) throw new InvalidArgumentError('expected a number above 0 and at most 1000');
  return n;
}

export function parseNonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number, 0 or more');
  return n;
}

/** A number within 0..1 (overlay alpha). */
export function parseFraction(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0 && n <= 1)) throw new InvalidArgumentError('expected a number within 0..1');
  return n;
}

/** How a command departs from the setting's own flag; everything not given comes from SETTINGS. */
export interface SettingOptionChanges {
  /** Long flag without dashes, when the command's subject makes another name clearer (`classify --weights`). */
  flag?: string;
  /** A second, shorter long flag for the same value (`--size` for `--inference-size`). */
  alias?: string;
  /** Shown in the help: `--weights <file|url>`. */
  valueName?: string;
  help?: string;
  /** false: the command does not read the setting's variable (its default means something else there). */
  env?: boolean;
  /** A default other than the setting's; `null` = none (the command resolves it later). */
  fallback?: unknown;
}

/** The setting's parser as a commander argument parser: its message becomes commander's usage error (exit 2). */
export function settingParser(name: SettingName): (raw: string, previous: unknown) => unknown {
  const { parse } = SETTINGS[name];
  return (raw, previous) => {
    // An empty variable counts as unset, as loadConfig reads it (compose passes `${CITYSEG_WEIGHTS:-}` through).
    if (raw === '') return previous;
    try {
      return parse(raw);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };
}

/** A commander Option for the server setting `name`: its flag, variable, parser and default, unless `changes` says. */
export function settingOption(name: SettingName, changes: SettingOptionChanges = {}): Option {
  const spec = SETTINGS[name];
  const flags = `${changes.alias ? `--${changes.alias}, ` : ''}--${changes.flag ?? spec.flag} <${changes.valueName ?? 'value'}>`;
  const option = new Option(flags, changes.help ?? spec.help).argParser(settingParser(name));
  if (changes.env !== false) option.env(spec.env);
  const fallback = changes.fallback === undefined ? spec.fallback : changes.fallback;
  if (fallback !== null && fallback !== undefined) option.default(fallback);
  return option;
}

export interface ModelFlags {
  arch?: ArchName;
  numClasses?: number;
  weights?: string;
  weightsKey?: string;
  engine?: 'auto' | 'tfjs' | 'onnx';
  executionProvider?: ExecutionProvider;
  cacheDir?: string;
  precision?: Precision;
  quantization?: string;
}

function archNames(task?: ModelTask): ArchName[] {
  return ARCH_NAMES.filter((name) => !task || ARCHITECTURES[name].task === task);
}

/**
 * --arch and --num-classes for `task` (undefined = any architecture: logits, export-onnx). With --weights both are
 * checks: the checkpoint says what it is; without, they pick the untrained model (defaults: the task's first
 * architecture; the label set's class count, or the architecture's own).
 */
function archOptions(task?: ModelTask): Option[] {
  const checked = "checked against the checkpoint or preset (default: the checkpoint's";
  switch (task) {
    case 'segmentation':
      return [
        settingOption('arch', { valueName: 'name', help: `${SETTINGS.arch.help}: ${archNames(task).join(', ')}` }),
        settingOption('numClasses', { valueName: 'n' }),
      ];
    case 'classification':
      // The server's classifier variables; `none` (serve no classifier) means nothing to a command that classifies.
      return [
        new Option('--arch <name>', `architecture: ${checked} or preset's; untrained: mobilenet_v3_large)`)
          .choices(archNames(task))
          .env(SETTINGS.classifierArch.env),
        new Option('--num-classes <n>', `number of output classes: ${checked} or preset's; untrained: ${untrainedNumClasses('classification')})`).argParser(parsePositiveInt),
      ];
    default:
      return [
        new Option('--arch <name>', `architecture: ${checked} or preset's; default: fastseg_mobilev3_large)`).choices(archNames()).env(SETTINGS.arch.env),
        new Option('--num-classes <n>', `number of output classes: ${checked} or preset's; untrained: ${untrainedNumClasses('segmentation')}, or ${untrainedNumClasses('classification')} for a classifier)`)
          .argParser(parsePositiveInt)
          .env(SETTINGS.numClasses.env),
      ];
  }
}

/**
 * --arch, --num-classes, --weights, --weights-key, --engine, --cache-dir: the server's settings for the segmentation
 * model, or for its classifier (`task: 'classification'`); `weightsHelp` replaces --weights' text for a command that
 * treats an absent --weights its own way. Commander reads a variable only for the command that runs,
 * so one bad variable does not break the others.
 */
export function addModelOptions(cmd: Command, task?: ModelTask, weightsHelp?: string): Command {
  const classifier = task === 'classification';
  const weights = classifier
    ? settingOption('classifierWeights', { flag: 'weights', valueName: 'file|url|name', help: weightsHelp })
    : settingOption('weights', {
        valueName: 'file|url|name',
        help:
          weightsHelp ??
          (task
            ? undefined
            : 'torchvision checkpoint (.pth zip or legacy, or .safetensors): path, http(s) URL or preset torchvision:<arch>[.<VARIANT>] (cityseg weights list); none or absent = untrained seeded init'),
      });
  const weightsKey = settingOption(classifier ? 'classifierWeightsKey' : 'weightsKey', {
    flag: 'weights-key',
    valueName: 'key',
    help: 'entry of a training checkpoint to load, e.g. model_ema (default: model / state_dict)',
  });
  for (const option of [...archOptions(task), weights, weightsKey, settingOption('engine', { valueName: 'name' }), settingOption('executionProvider', { valueName: 'cpu|cuda' }), settingOption('cacheDir', { valueName: 'dir' })]) {
    cmd.addOption(option);
  }
  return cmd;
}

/** --precision and --quantization (the server's settings) for commands that run the segmentation model. */
export function addPrecisionOptions(cmd: Command): Command {
  return cmd.addOption(settingOption('precision', { valueName: 'fp32|int8' })).addOption(settingOption('quantization', { valueName: 'file' }));
}

/**
 * The options loadModel takes. Without --weights, `fallbackNumClasses` (the label set's size) is the untrained model's
 * class count when no flag or variable gives one; with weights the checkpoint's count applies. `task` keeps a
 * segmentation command from loading a classifier's checkpoint (and picks the untrained default architecture).
 */
export function modelOptions(flags: ModelFlags, fallbackNumClasses?: number, task?: ModelTask): LoadModelOptions {
  return {
    arch: flags.arch,
    task,
    numClasses: flags.numClasses ?? (flags.weights ? undefined : fallbackNumClasses),
    weights: flags.weights,
    weightsKey: flags.weightsKey,
    engine: flags.engine,
    executionProvider: flags.executionProvider,
    cacheDir: flags.cacheDir,
    precision: flags.precision,
    quantization: flags.quantization,
  };
}

/** --size / --inference-size: the server's default long side (CITYSEG_INFERENCE_SIZE). */
export function addSizeOption(cmd: Command): Command {
  return cmd.addOption(settingOption('inferenceSize', { alias: 'size', valueName: 'n|native' }));
}

/** --size and --labels, the server's settings. */
export function addSegmentationOptions(cmd: Command): Command {
  return addSizeOption(cmd).addOption(settingOption('labels', { valueName: 'name|file' }));
}

export interface SegmentationFlags {
  inferenceSize: InferenceSize;
  labels?: string;
}
