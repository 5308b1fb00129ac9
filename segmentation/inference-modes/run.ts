/**
 * The inference modes end to end: `slide` (mmsegmentation 1.x's slide_inference) and test-time augmentation over
 * scales and a horizontal flip (mmsegmentation 1.x's SegTTAModel), to a class map or to dense scores.
 */
import type { Float32Tensor, InferenceEngine } from '../../model/engines/engine.js';
import { argmaxChannels, upsampleArgmax, upsampleLogits, UpsampleArgmaxRows } from '../postprocess.js';
import { inferenceDims, normalizeImageNet, type InferenceSize } from '../preprocess.js';
import type { ClassMap, RgbImage } from '../types.js';
import { resizeRgb } from '../preprocess.js';
import { flipNhwcInPlace, flipRgb, nchwToNhwc } from './image-ops.js';
import {
  checkForwardPasses,
  checkInferenceModeOptions,
  checkMinimumSide,
  isAugmented,
  modeReport,
  scaledDims,
  type InferenceModeOptions,
  type InferenceModeReport,
} from './options.js';
import { DenseRows, networkLogits, slideInference } from './slide.js';
import { StageClock } from './stage-clock.js';

export interface ModeSegmentation {
  /** Class indices at the original image's size. */
  classMap: ClassMap;
  /** The size the inference-size policy chose (scale 1). */
  inferenceSize: { width: number; height: number };
  timings: { preprocessMs: number; inferenceMs: number; postprocessMs: number };
  report: InferenceModeReport;
}

/** `img`'s logits at its own size, NHWC `[1, H, W, C]`: one whole pass, or sliding windows averaged. */
async function logitsAtInputSize(engine: InferenceEngine, img: RgbImage, opts: InferenceModeOptions, clock: StageClock): Promise<Float32Tensor> {
  if (opts.mode === 'whole') {
    const logits = await networkLogits(engine, img, clock);
    return clock.time('postprocess', () => nchwToNhwc(logits));
  }
  let dense: DenseRows | undefined;
  await slideInference(engine, img, opts.crop, opts.stride, (classes) => (dense = new DenseRows(img.height, img.width, classes)), clock);
  if (!dense) throw new TypeError('sliding-window inference ran no window');
  return dense.tensor;
}

/** Softmax over C of every pixel of NCHW `[1, C, H, W]`, added into `probs` (float64 inside, like softmax()). */
function addSoftmax(probs: Float32Array, logits: Float32Tensor): void {
  const [, c, height, width] = logits.shape;
  const plane = height * width;
  const { data } = logits;
  const exps = new Float64Array(c);
  for (let p = 0; p < plane; p++) {
    let max = -Infinity;
    for (let ch = 0; ch < c; ch++) max = Math.max(max, data[ch * plane + p]);
    let total = 0;
    for (let ch = 0; ch < c; ch++) total += exps[ch] = Math.exp(data[ch * plane + p] - max);
    for (let ch = 0; ch < c; ch++) probs[ch * plane + p] += Math.fround(exps[ch] / total);
  }
}

/**
 * SegTTAModel: for each scale (of `base`, the policy's size) and each flip, `source` resized, run (whole or slide),
 * un-flipped, upsampled to outH x outW, softmaxed; the probabilities averaged. Returns NCHW `[1, C, outH, outW]`.
 */
async function augmentedProbabilities(
  engine: InferenceEngine,
  source: RgbImage,
  base: { width: number; height: number },
  opts: InferenceModeOptions,
  out: { width: number; height: number },
  clock: StageClock,
): Promise<Float32Tensor> {
  let probs: Float32Tensor | undefined;
  let passes = 0;
  for (const scale of opts.scales) {
    const dims = scaledDims(base.width, base.height, scale);
    const scaled = await clock.time('preprocess', () => resizeRgb(source, dims.width, dims.height));
    for (const flip of opts.flip ? [false, true] : [false]) {
      const input = flip ? await clock.time('preprocess', () => flipRgb(scaled)) : scaled;
      const logits = await logitsAtInputSize(engine, input, opts, clock);
      await clock.time('postprocess', () => {
        if (flip) flipNhwcInPlace(logits);
        const up = upsampleLogits(logits, out.height, out.width);
        probs ??= { data: new Float32Array(up.data.length), shape: up.shape };
        addSoftmax(probs.data, up);
      });
      passes++;
    }
  }
  if (!probs) throw new TypeError('test-time augmentation ran no pass');
  const result = probs;
  await clock.time('postprocess', () => {
    for (let i = 0; i < result.data.length; i++) result.data[i] /= passes;
  });
  return result;
}

/**
 * A decoded image → class map at its size, in the given mode: the inference-size policy's resize, then `slide`
 * and/or test-time augmentation (or one whole pass). Plain `slide` never holds a full-resolution C x H x W map: rows
 * are averaged, upsampled and argmaxed as soon as the windows are past them (UpsampleArgmaxRows). Throws
 * InvalidArgumentError for options that cannot work or that need more forward passes than `maxForwardPasses`;
 * `checkpoint` runs before every stage of every pass and may throw to stop (a cancelled job).
 */
export async function segmentWithMode(
  engine: InferenceEngine,
  image: RgbImage,
  size: InferenceSize,
  opts: InferenceModeOptions,
  checkpoint?: () => void,
  minSide = 1,
): Promise<ModeSegmentation> {
  checkInferenceModeOptions(opts);
  const inferenceSize = inferenceDims(image.width, image.height, size, minSide);
  checkMinimumSide(opts, inferenceSize, minSide);
  checkForwardPasses(opts, inferenceSize.width, inferenceSize.height);
  const clock = new StageClock(checkpoint);
  let classMap: ClassMap;
  if (isAugmented(opts)) {
    const probs = await augmentedProbabilities(engine, image, inferenceSize, opts, image, clock);
    classMap = await clock.time('postprocess', () => argmaxChannels(probs));
  } else {
    const input = await clock.time('preprocess', () => resizeRgb(image, inferenceSize.width, inferenceSize.height));
    if (opts.mode === 'slide') {
      let rows: UpsampleArgmaxRows | undefined;
      const sinkFor = (classes: number) => (rows = new UpsampleArgmaxRows(input.height, input.width, classes, image.height, image.width));
      await slideInference(engine, input, opts.crop, opts.stride, sinkFor, clock);
      if (!rows?.done) throw new TypeError('sliding-window inference left rows unfinished');
      classMap = rows.classMap;
    } else {
      // The whole pass: the engine's 1/8 logits straight to the original size.
      const normalized = await clock.time('preprocess', () => normalizeImageNet(input));
      const logits = await clock.time('inference', () => engine.run(normalized));
      clock.forwardPasses++;
      classMap = await clock.time('postprocess', () => upsampleArgmax(logits, image.height, image.width));
    }
  }
  return { classMap, inferenceSize, timings: clock.timings(), report: modeReport(opts, clock.forwardPasses) };
}

/**
 * Dense scores of `image` at its own size, NCHW `[1, C, H, W]` (the `cityseg logits` output): whole → the network's
 * logits; slide → the window-averaged logits; with augmentation → the averaged softmax probabilities.
 */
export async function scoresWithMode(
  engine: InferenceEngine,
  image: RgbImage,
  opts: InferenceModeOptions,
  minSide = 1,
): Promise<{ scores: Float32Tensor; report: InferenceModeReport }> {
  checkInferenceModeOptions(opts);
  checkMinimumSide(opts, image, minSide);
  checkForwardPasses(opts, image.width, image.height);
  const clock = new StageClock();
  let scores: Float32Tensor;
  if (isAugmented(opts)) {
    scores = await augmentedProbabilities(engine, image, image, opts, image, clock);
  } else if (opts.mode === 'slide') {
    const nhwc = await logitsAtInputSize(engine, image, opts, clock);
    // NHWC at the input size → NCHW by the identity upsample (ATen copies when sizes match).
    scores = upsampleLogits(nhwc, image.height, image.width);
  } else {
    scores = await networkLogits(engine, image, clock);
  }
  return { scores, report: modeReport(opts, clock.forwardPasses) };
}
