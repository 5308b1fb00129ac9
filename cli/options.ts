/**
 * The commands' flags. Every flag that is also a server setting is built from server/config.ts's SETTINGS entry:
 * the same flag, environment variable, parser, range and default as `cityseg serve` and the HTTP service.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { ARCH_NAMES, ARCHITECTURES, isArchName } from '../model/architectures.js';
import type { ArchName, LoadModelOptions, ModelTask } from '../model/loaded-model.js';
import type { InferenceSize } from '../segmentation/preprocess.js';
import { SETTINGS, type SettingName } from '../server/config.js';

/** No pixel limit beyond sharp's own: the CLI reads files the user chose, not uploads. */
export const CLI_MAX_PIXELS = 2 ** 31;

export function parseArch(value: string): ArchName {
  if (!isArchName(value)) throw new InvalidArgumentError(`expected one of ${ARCH_NAMES.join(', ')}`);
  return value;
}

export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
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
  arch: ArchName;
  numClasses?: number;
  weights?: string;
  engine?: 'auto' | 'tfjs' | 'onnx';
  cacheDir?: string;
}

/** Class count when no flag or variable gives one: the server's setting for a segmentation head, ImageNet's 1000 for a classifier. */
export function defaultNumClasses(arch: ArchName): number {
  return ARCHITECTURES[arch].task === 'segmentation' ? (SETTINGS.numClasses.fallback as number) : ARCHITECTURES[arch].defaultNumClasses;
}

function archNames(task?: ModelTask): ArchName[] {
  return ARCH_NAMES.filter((name) => !task || ARCHITECTURES[name].task === task);
}

/** --arch and --num-classes for `task`; undefined = any architecture (logits, export-onnx). */
function archOptions(task?: ModelTask): Option[] {
  const numClassesHelp = 'number of output classes';
  switch (task) {
    case 'segmentation':
      return [
        settingOption('arch', { valueName: 'name', help: `${SETTINGS.arch.help}: ${archNames(task).join(', ')}` }),
        settingOption('numClasses', { valueName: 'n' }),
      ];
    case 'classification':
      // The server's classifier variables; `none` (serve no classifier) means nothing to a command that classifies.
      return [
        new Option('--arch <name>', 'ImageNet classifier architecture').choices(archNames(task)).env(SETTINGS.classifierArch.env).default(SETTINGS.classifierArch.fallback),
        new Option('--num-classes <n>', numClassesHelp).argParser(parsePositiveInt).default(ARCHITECTURES.mobilenet_v3_large.defaultNumClasses),
      ];
    default:
      return [
        new Option('--arch <name>', 'architecture').choices(archNames()).env(SETTINGS.arch.env).default(SETTINGS.arch.fallback),
        new Option('--num-classes <n>', `${numClassesHelp} (default: ${String(SETTINGS.numClasses.fallback)}, or 1000 for a classifier)`)
          .argParser(parsePositiveInt)
          .env(SETTINGS.numClasses.env),
      ];
  }
}

/**
 * --arch, --num-classes, --weights, --engine, --cache-dir: the server's settings for the segmentation model, or for
 * its classifier (`task: 'classification'`). Commander reads a variable only for the command that runs, so one bad
 * variable does not break the others.
 */
export function addModelOptions(cmd: Command, task?: ModelTask): Command {
  const weights =
    task === 'classification'
      ? settingOption('classifierWeights', { flag: 'weights', valueName: 'file|url' })
      : settingOption('weights', { valueName: 'file|url', help: task ? undefined : 'torchvision checkpoint (.pth/.safetensors path or URL); absent → untrained seeded init' });
  for (const option of [...archOptions(task), weights, settingOption('engine', { valueName: 'name' }), settingOption('cacheDir', { valueName: 'dir' })]) {
    cmd.addOption(option);
  }
  return cmd;
}

/** The loadModel options of the command's flags; `numClasses` falls back on defaultNumClasses. */
export function modelOptions(flags: ModelFlags): LoadModelOptions {
  return {
    arch: flags.arch,
    numClasses: flags.numClasses ?? defaultNumClasses(flags.arch),
    weights: flags.weights,
    engine: flags.engine,
    cacheDir: flags.cacheDir,
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
  labels: string;
}
