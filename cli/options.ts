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
  arch?: ArchName;
  numClasses?: number;
  weights?: string;
  weightsKey?: string;
  engine?: 'auto' | 'tfjs' | 'onnx';
  cacheDir?: string;
}

export interface ModelOptionDefaults {
  /** The untrained model's architecture (without --weights); with weights the checkpoint says. */
  arch: ArchName;
  /** `CITYSEG` (the segmentation model's variables) or `CITYSEG_CLASSIFIER` (the classifier's), as the server reads them. */
  envPrefix?: string;
  /** Offer only the architectures of this task. */
  task?: ModelTask;
}

/**
 * --arch, --num-classes, --weights, --weights-key, --engine, --cache-dir. Each falls back on its environment variable
 * (commander reads it only for the command that runs, so one bad variable does not break the others). With
 * --weights, --arch and --num-classes are checks: the checkpoint says what it is.
 */
export function addModelOptions(cmd: Command, defaults: ModelOptionDefaults): Command {
  const env = defaults.envPrefix ?? 'CITYSEG';
  const archs = ARCH_NAMES.filter((name) => !defaults.task || ARCHITECTURES[name].task === defaults.task);
  return cmd
    .addOption(
      new Option('--arch <name>', `architecture: checked against the checkpoint (default: the checkpoint's; untrained: ${defaults.arch})`)
        .choices(archs)
        .env(`${env}_ARCH`),
    )
    .addOption(
      new Option('--num-classes <n>', "number of output classes: checked against the checkpoint (default: the checkpoint's; untrained: the label set's, or the architecture's own)")
        .argParser(parsePositiveInt)
        .env(`${env}_NUM_CLASSES`),
    )
    .addOption(
      new Option('--weights <file|url>', 'torchvision checkpoint (.pth zip or legacy, or .safetensors), path or http(s) URL; none = untrained seeded init').env(
        `${env}_WEIGHTS`,
      ),
    )
    .addOption(
      new Option('--weights-key <key>', 'entry of a training checkpoint to load, e.g. model_ema (default: model / state_dict)').env(`${env}_WEIGHTS_KEY`),
    )
    .addOption(new Option('--engine <name>', 'inference runtime').choices(['auto', 'tfjs', 'onnx']).env('CITYSEG_ENGINE').default('auto'))
    .addOption(new Option('--cache-dir <dir>', 'where downloaded weights are cached').env('CITYSEG_CACHE_DIR'));
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
    new Option('--labels <name|file>', "label set: cityscapes, voc or a label JSON file (default: the model's class count's, 19 cityscapes, 21 voc)").env(
      'CITYSEG_LABELS',
    ),
  );
}

export interface SegmentationFlags {
  size: InferenceSize;
  labels?: string;
}
