/** Flags shared by the commands that load a model, with the same environment variables as the server. */
import { InvalidArgumentError, type Command } from 'commander';
import { ARCH_NAMES, ARCHITECTURES, isArchName } from '../model/architectures.js';
import type { ArchName, LoadModelOptions } from '../model/loaded-model.js';

export function parseArch(value: string): ArchName {
  if (!isArchName(value)) throw new InvalidArgumentError(`expected one of ${ARCH_NAMES.join(', ')}`);
  return value;
}

export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

export interface ModelFlags {
  arch: ArchName;
  numClasses?: number;
  weights?: string;
  engine?: 'auto' | 'tfjs' | 'onnx';
  cacheDir?: string;
}

export function addModelOptions(cmd: Command, defaults: { arch: ArchName; envPrefix?: string }): Command {
  const env = defaults.envPrefix ?? 'CITYSEG';
  return cmd
    .option('--arch <name>', `architecture: ${ARCH_NAMES.join(', ')} (env ${env}_ARCH)`, parseArch, parseArchEnv(process.env[`${env}_ARCH`]) ?? defaults.arch)
    .option('--num-classes <n>', `number of output classes (env ${env}_NUM_CLASSES; default: the architecture's own)`, parsePositiveInt)
    .option('--weights <file|url>', `torchvision checkpoint (.pth or .safetensors), path or http(s) URL (env ${env}_WEIGHTS); none = untrained seeded init`, process.env[`${env}_WEIGHTS`])
    .option('--engine <name>', 'auto, tfjs or onnx (env CITYSEG_ENGINE)', process.env.CITYSEG_ENGINE ?? 'auto')
    .option('--cache-dir <dir>', 'where downloaded weights are cached (env CITYSEG_CACHE_DIR)', process.env.CITYSEG_CACHE_DIR);
}

function parseArchEnv(value: string | undefined): ArchName | undefined {
  return value === undefined ? undefined : parseArch(value);
}

export function modelOptions(flags: ModelFlags): LoadModelOptions {
  return {
    arch: flags.arch,
    numClasses: flags.numClasses ?? ARCHITECTURES[flags.arch].defaultNumClasses,
    weights: flags.weights,
    engine: flags.engine,
    cacheDir: flags.cacheDir,
  };
}
