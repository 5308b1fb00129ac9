/** --mode, --crop, --stride, --scales, --flip, --max-forward-passes: the inference modes on the command line. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import {
  checkInferenceModeOptions,
  DEFAULT_INFERENCE_MODE,
  INFERENCE_MODES,
  parseScales,
  parseWindowSize,
  type InferenceMode,
  type InferenceModeOptions,
  type WindowSize,
} from '../segmentation/inference-modes/index.js';
import { settingOption } from './options.js';

export interface InferenceModeFlags {
  mode: InferenceMode;
  crop: WindowSize;
  stride: WindowSize;
  scales: number[];
  flip?: boolean;
  maxForwardPasses: number;
}

/** A segmentation-module parser as a commander argument parser (its message becomes the usage error). */
function commanderParser<T>(parse: (text: string) => T): (text: string) => T {
  return (text) => {
    try {
      return parse(text);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };
}

const sizeText = (size: WindowSize) => `${size.height}x${size.width}`;

export function addInferenceModeOptions(cmd: Command): Command {
  const d = DEFAULT_INFERENCE_MODE;
  return cmd
    .addOption(new Option('--mode <mode>', 'whole: one pass over the image; slide: overlapping windows, logits averaged').choices(INFERENCE_MODES).default(d.mode))
    .addOption(new Option('--crop <HxW>', 'slide: window size').argParser(commanderParser((t) => parseWindowSize(t, 'crop'))).default(d.crop, sizeText(d.crop)))
    .addOption(
      new Option('--stride <HxW>', 'slide: step between windows, at most the crop').argParser(commanderParser((t) => parseWindowSize(t, 'stride'))).default(d.stride, sizeText(d.stride)),
    )
    .addOption(
      new Option('--scales <list>', 'test-time augmentation: ratios of the --size image, e.g. 0.5,0.75,1,1.25,1.5,1.75')
        .argParser(commanderParser((t) => parseScales(t)))
        .default([...d.scales], d.scales.join(',')),
    )
    .option('--flip', 'test-time augmentation: also run the horizontally flipped image (probabilities averaged)')
    .addOption(settingOption('maxForwardPasses', { valueName: 'n' }));
}

/** The flags as InferenceModeOptions, checked (InvalidArgumentError naming the parameter: a usage error). */
export function inferenceModeFrom(flags: InferenceModeFlags): InferenceModeOptions {
  const options: InferenceModeOptions = {
    mode: flags.mode,
    crop: flags.crop,
    stride: flags.stride,
    scales: flags.scales,
    flip: flags.flip ?? false,
    maxForwardPasses: flags.maxForwardPasses,
  };
  checkInferenceModeOptions(options);
  return options;
}

export const INFERENCE_MODE_HELP = `
Inference modes: --mode slide runs windows of --crop every --stride (mmsegmentation's placement) and averages
their logits; --scales and --flip add test-time augmentation (softmax probabilities averaged over the passes).`;
