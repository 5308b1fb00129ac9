import { performance } from 'node:perf_hooks';
import type { ClassifierTransform } from '../model/descriptor.js';
import type { Float32Tensor, InferenceEngine } from '../model/engines/engine.js';
import { decodeImage, type DecodeOptions, type ImageProbe } from './decode.js';
import { ShapeError } from './errors.js';
import { isPlainWhole, modeReport, segmentWithMode, type InferenceModeOptions, type InferenceModeReport } from './inference-modes/index.js';
import { softmax, topK, upsampleArgmax, type TopKEntry } from './postprocess.js';
import { classificationInput, normalizeImageNet, resizeForInference, type InferenceSize } from './preprocess.js';
import type { ClassMap, RgbImage } from './types.js';

/**
 * Milliseconds spent in each stage of one request (names: segmentation/stages.ts). `preprocessMs` is resize and
 * normalise together; a whole pass also reports the two apart (`resizeMs`, `normalizeMs`).
 */
export interface SegmentTimings {
  decodeMs: number;
  preprocessMs: number;
  inferenceMs: number;
  postprocessMs: number;
  resizeMs?: number;
  normalizeMs?: number;
}

export interface SegmentOptions {
  size: InferenceSize;
  /** The network's smallest accepted side (model/fastseg.ts minInputSide); smaller inference sizes are raised to it. */
  minSide?: number;
  maxPixels: number;
  /** The image header the caller already read (decode does not read it again). */
  probe?: ImageProbe;
  /** Called between stages; throws to stop a job nobody waits for (a forward pass itself cannot be interrupted). */
  checkpoint?: () => void;
  /** Keep the network's logits in the result (one whole pass only; the Open Inference Protocol's `logits` output). */
  keepLogits?: boolean;
}

export interface SegmentResult {
  /** The decoded image, EXIF-oriented, at its original size. */
  image: RgbImage;
  /** Class indices at the image's size. */
  classMap: ClassMap;
  /** The size the network ran at. */
  inferenceSize: { width: number; height: number };
  timings: SegmentTimings;
  /** How it ran (mode, forward passes), when the caller chose an inference mode. */
  mode?: InferenceModeReport;
  /** Images in the forward pass that served this one (dynamic batching), when the engine reports it. */
  batchSize?: number;
  /** NHWC [1, h, w, C] at the network's output size, when `keepLogits` asked for them. */
  logits?: Float32Tensor;
}

/** Encoded image bytes are decoded; RGB pixels (already decoded by the client) are used as they are. */
function imageOf(input: Uint8Array | RgbImage, opts: DecodeOptions): Promise<RgbImage> | RgbImage {
  return input instanceof Uint8Array ? decodeImage(input, opts) : input;
}

/** Runs `fn`, returning its result and how long it took. */
async function timed<T>(fn: () => Promise<T> | T): Promise<[T, number]> {
  const start = performance.now();
  const result = await fn();
  return [result, performance.now() - start];
}

/** Throws ShapeError unless `logits` are one image's NHWC scores `[1, h, w, C]`, as a segmentation engine returns them. */
export function checkSegmentationLogits(logits: Float32Tensor): void {
  if (logits.shape.length !== 4 || logits.shape[0] !== 1) {
    throw new ShapeError(`segmentation engine must return NHWC logits [1, h, w, C], got [${logits.shape.join(', ')}]`);
  }
}

/**
 * Image bytes → class map at the original size: decode, resize, normalise, run, upsample + argmax. With `mode`
 * (inference-modes: slide, test-time augmentation) other than a plain whole pass, the runs after decoding are
 * segmentWithMode's.
 */
export async function segmentImage(
  engine: InferenceEngine,
  bytes: Uint8Array | RgbImage,
  opts: SegmentOptions,
  mode?: InferenceModeOptions,
): Promise<SegmentResult> {
  const checkpoint = opts.checkpoint ?? (() => undefined);
  const [image, decodeMs] = await timed(() => imageOf(bytes, opts));
  checkpoint();
  if (mode && !isPlainWhole(mode)) {
    const run = await segmentWithMode(engine, image, opts.size, mode, checkpoint, opts.minSide);
    return { image, classMap: run.classMap, inferenceSize: run.inferenceSize, timings: { decodeMs, ...run.timings }, mode: run.report };
  }
  const [resized, resizeMs] = await timed(() => resizeForInference(image, opts.size, opts.minSide));
  const [input, normalizeMs] = await timed(() => normalizeImageNet(resized));
  checkpoint();
  const [logits, waitedMs] = await timed(() => engine.run(input));
  // The forward pass alone when the engine measured it (not the wait behind another request's pass).
  const inferenceMs = logits.forwardMs ?? waitedMs;
  checkpoint();
  checkSegmentationLogits(logits);
  const [classMap, postprocessMs] = await timed(() => upsampleArgmax(logits, image.height, image.width));
  return {
    image,
    classMap,
    inferenceSize: { width: resized.width, height: resized.height },
    timings: { decodeMs, preprocessMs: resizeMs + normalizeMs, inferenceMs, postprocessMs, resizeMs, normalizeMs },
    batchSize: logits.batchSize,
    ...(mode ? { mode: modeReport(mode, 1) } : {}),
    ...(opts.keepLogits ? { logits } : {}),
  };
}

export interface ClassifyOptions {
  maxPixels: number;
  /** As SegmentOptions.probe. */
  probe?: ImageProbe;
  /** How many of the most probable classes to return. */
  topk: number;
  /** One name per classifier output. */
  labels: readonly string[];
  /** The weights' eval transform (the model's descriptor: `preprocessing`). */
  transform: ClassifierTransform;
  /** As SegmentOptions.checkpoint. */
  checkpoint?: () => void;
}

export interface ClassifyResult {
  image: RgbImage;
  top: TopKEntry[];
  timings: SegmentTimings;
  /** As SegmentResult.batchSize. */
  batchSize?: number;
}

function checkClassifierLogits(logits: Float32Tensor, labels: readonly string[]): void {
  const { shape } = logits;
  if (shape.length !== 2 || shape[0] !== 1) {
    throw new ShapeError(`classification engine must return logits [1, C], got [${shape.join(', ')}]`);
  }
  if (shape[1] !== labels.length) {
    throw new ShapeError(`classifier outputs ${shape[1]} classes but ${labels.length} labels were given`);
  }
}

/** Image bytes → the top-k classes: decode, the weights' eval transform (`opts.transform`), run, softmax. */
export async function classifyImage(engine: InferenceEngine, bytes: Uint8Array | RgbImage, opts: ClassifyOptions): Promise<ClassifyResult> {
  const checkpoint = opts.checkpoint ?? (() => undefined);
  const [image, decodeMs] = await timed(() => imageOf(bytes, opts));
  checkpoint();
  const [input, preprocessMs] = await timed(() => classificationInput(image, opts.transform));
  checkpoint();
  const [logits, waitedMs] = await timed(() => engine.run(input));
  // The forward pass alone when the engine measured it (not the wait behind another request's pass).
  const inferenceMs = logits.forwardMs ?? waitedMs;
  checkClassifierLogits(logits, opts.labels);
  const [top, postprocessMs] = await timed(() => topK(softmax(logits.data), opts.topk, opts.labels));
  return { image, top, timings: { decodeMs, preprocessMs, inferenceMs, postprocessMs }, batchSize: logits.batchSize };
}
