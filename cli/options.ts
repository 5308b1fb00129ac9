/** Flags shared by the commands that load a model, with the same environment variables as the server. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { ARCH_NAMES, ARCHITECTURES, isArchName } from '../model/architectures.js';
import type { ArchName, LoadModelOptions, ModelTask } from '../model/loaded-model.js';
import { DEFAULT_INFERENCE_SIZE, parseInferenceSize, type InferenceSize } from '../segmentation/preprocess.js';

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

/** `1024` or `native` (the long side the network sees). */
export function parseNonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number, 0 or more');
  return n;
}

export function parseSizeFlag(value: string): InferenceSize {
  try {
    return parseInferenceSize(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** A number within 0..1 (overlay alpha). */
export function parseFraction(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0 && n <= 1)) throw new InvalidArgumentError('expected a number within 0..1');
  return n;
}

export interface ModelFlags {
  arch: ArchName;
  numClasses?: number;
  weights?: string;
  engine?: 'auto' | 'tfjs' | 'onnx';
  cacheDir?: string;
}

export interface ModelOptionDefaults {
  arch: ArchName;
  /** `CITYSEG` (the segmentation model's variables) or `CITYSEG_CLASSIFIER` (the classifier's), as the server reads them. */
  envPrefix?: string;
  /** Offer only the architectures of this task. */
  task?: ModelTask;
}

/**
 * --arch, --num-classes, --weights, --engine, --cache-dir. Each falls back on its environment variable
 * (commander reads it only for the command that runs, so one bad variable does not break the others).
 */
export function addModelOptions(cmd: Command, defaults: ModelOptionDefaults): Command {
  const env = defaults.envPrefix ?? 'CITYSEG';
  const archs = ARCH_NAMES.filter((name) => !defaults.task || ARCHITECTURES[name].task === defaults.task);
  return cmd
    .addOption(new Option('--arch <name>', 'architecture').choices(archs).env(`${env}_ARCH`).default(defaults.arch))
    .addOption(
      new Option('--num-classes <n>', "number of output classes (default: the label set's, or the architecture's own)")
        .argParser(parsePositiveInt)
        .env(`${env}_NUM_CLASSES`),
    )
    .addOption(
      new Option(
        '--weights <file|url|name>',
        'torchvision checkpoint (.pth or .safetensors): path, http(s) URL or preset torchvision:<arch>[.<VARIANT>] (cityseg weights list); none = untrained seeded init',
      ).env(
        `${env}_WEIGHTS`,
      ),
    )
    .addOption(new Option('--engine <name>', 'inference runtime').choices(['auto', 'tfjs', 'onnx']).env('CITYSEG_ENGINE').default('auto'))
    .addOption(new Option('--cache-dir <dir>', 'where downloaded weights are cached').env('CITYSEG_CACHE_DIR'));
}

/** `numClasses` when no flag or variable gives it: the label set's size, else the architecture's own. */
export function modelOptions(flags: ModelFlags, fallbackNumClasses?: number): LoadModelOptions {
  return {
    arch: flags.arch,
    numClasses: flags.numClasses ?? fallbackNumClasses ?? ARCHITECTURES[flags.arch].defaultNumClasses,
    weights: flags.weights,
    engine: flags.engine,
    cacheDir: flags.cacheDir,
  };
}

/** --size, read from the same variable as the server's default. */
export function addSizeOption(cmd: Command): Command {
  return cmd.addOption(
    new Option('--size <n|native>', 'long side the network runs at (never upscaled); native = the image size')
      .argParser(parseSizeFlag)
      .env('CITYSEG_INFERENCE_SIZE')
      .default(DEFAULT_INFERENCE_SIZE),
  );
}

/** --size and --labels, read from the same variables as the server's defaults. */
export function addSegmentationOptions(cmd: Command): Command {
  return addSizeOption(cmd).addOption(
    new Option('--labels <name|file>', 'label set: cityscapes, voc or a label JSON file').env('CITYSEG_LABELS').default('cityscapes'),
  );
}

export interface SegmentationFlags {
  size: InferenceSize;
  labels: string;
}
