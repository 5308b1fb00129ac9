import type { EngineName } from '../model/engines/engine.js';
import type { ArchName } from '../model/loaded-model.js';
import { isAugmented, scaledDims, type InferenceModeOptions } from '../segmentation/inference-modes/index.js';
import { SEGMENTATION_OUTPUTS } from './oip/response.js';
import { DATATYPE_BYTES } from './oip/tensors.js';

/**
 * Working memory of one request, estimated before any pixel is decoded from what it asks for: the body it sent,
 * the decoded size (image header), the size the network runs at, the inference mode and the output format. The
 * per-pixel numbers are upper bounds measured on this project's machines (peak RSS above the baseline,
 * `scripts/attack.ts`); they include memory that is freed but not yet collected by V8's GC, which is why they are
 * sums, not maxima. The inference modes' and the Open Inference Protocol's shares are counted from the buffers the
 * code allocates. Every memory estimate of the service is here.
 */

/** Bytes of one float32 (logits, probabilities, the normalised input). */
const FLOAT32_BYTES = 4;
/** Bytes per pixel of an RGB image (decoded, resized). */
const RGB_BYTES_PER_PIXEL = 3;
/** Bytes per pixel of the normalised float32 input. */
const NORMALISED_BYTES_PER_PIXEL = RGB_BYTES_PER_PIXEL * FLOAT32_BYTES;
/** The engines return logits at 1/8 of the network's input (model/forward.ts), LR-ASPP and fastseg alike. */
const LOGITS_STRIDE = 8;

/**
 * Peak bytes per input pixel of one forward pass, by engine and architecture. ONNX Runtime with its memory
 * arena off (measured: lraspp large 110-150, small 80-100 B/px from 0.5 to 16.8 MP); TensorFlow.js on
 * WebAssembly keeps its grown heap (measured ~1.5 kB/px at 1024x2048), so it is charged far more. fastseg's
 * decoder runs at stride 2 with F + 32 channels (up to 288 floats per 4 input pixels, several maps alive): charged
 * 5x LR-ASPP's, an estimate from that arithmetic rather than a measurement.
 */
const FORWARD_BYTES_PER_PIXEL: Record<EngineName, Record<ArchName, number>> = {
  onnx: {
    lraspp_mobilenet_v3_large: 160, lraspp_mobilenet_v3_small: 120, mobilenet_v3_large: 160, mobilenet_v3_small: 120,
    fastseg_mobilev3_large: 800, fastseg_mobilev3_small: 800,
  },
  tfjs: {
    lraspp_mobilenet_v3_large: 1600, lraspp_mobilenet_v3_small: 1200, mobilenet_v3_large: 1600, mobilenet_v3_small: 1200,
    fastseg_mobilev3_large: 8000, fastseg_mobilev3_small: 8000,
  },
};

/** Bytes per decoded pixel: sharp's RGB output plus libvips' copy while it orients and flattens. */
const DECODE_BYTES_PER_PIXEL = 6;
/** Bytes per inference pixel outside the engine: the resized RGB and the normalised float32 input. */
const INPUT_BYTES_PER_PIXEL = RGB_BYTES_PER_PIXEL + NORMALISED_BYTES_PER_PIXEL;
/** Class map at the image's size (one byte per pixel) plus the argmax's row buffers. */
const CLASS_MAP_BYTES_PER_PIXEL = 1;
/** Encoding, per image pixel: grey PNGs filter a copy; colour and overlay build an RGB buffer first; RLE strings. */
export const ENCODE_BYTES_PER_PIXEL = {
  labelIds: 2,
  trainIds: 2,
  colorPalette: 2,
  color: 7,
  overlay: 8,
  json: 1,
  jsonRle: 6,
} as const;
/** Per request regardless of size: stacks, small buffers, the response object. */
const FIXED_BYTES = 4 * 1024 ** 2;

export type EncodeKind = keyof typeof ENCODE_BYTES_PER_PIXEL;

export interface SegmentEstimateInput {
  bodyBytes: number;
  /** Decoded (oriented) image size. */
  width: number;
  height: number;
  /** Size the network runs at, for one forward pass; `passes` counts them (1 for whole-image inference). */
  inferenceWidth: number;
  inferenceHeight: number;
  arch: ArchName;
  engine: EngineName;
  encode: EncodeKind;
}

/** The engine's share of a pass: ONNX Runtime's arena keeps it after the pass (server/memory-budget.ts holds it). */
export function forwardBytes(engine: EngineName, arch: ArchName, pixels: number): number {
  return Math.ceil(pixels * FORWARD_BYTES_PER_PIXEL[engine][arch]);
}

/** Upper bound of a segmentation request's working memory in bytes (the forward pass's share included). */
export function estimateSegmentBytes(input: SegmentEstimateInput): number {
  const imagePixels = input.width * input.height;
  const inferencePixels = input.inferenceWidth * input.inferenceHeight;
  const forward = FORWARD_BYTES_PER_PIXEL[input.engine][input.arch];
  return Math.ceil(
    FIXED_BYTES +
      input.bodyBytes +
      imagePixels * (DECODE_BYTES_PER_PIXEL + CLASS_MAP_BYTES_PER_PIXEL + ENCODE_BYTES_PER_PIXEL[input.encode]) +
      inferencePixels * (INPUT_BYTES_PER_PIXEL + forward),
  );
}

export interface ClassifyEstimateInput {
  bodyBytes: number;
  width: number;
  height: number;
  /** Size of torchvision's Resize output before the centre crop. */
  resizedWidth: number;
  resizedHeight: number;
  /** Side of the centre crop the network sees. */
  crop: number;
  arch: ArchName;
  engine: EngineName;
}

/** Upper bound of a classification request's working memory in bytes. */
export function estimateClassifyBytes(input: ClassifyEstimateInput): number {
  const forward = FORWARD_BYTES_PER_PIXEL[input.engine][input.arch];
  return Math.ceil(
    FIXED_BYTES +
      input.bodyBytes +
      input.width * input.height * DECODE_BYTES_PER_PIXEL +
      input.resizedWidth * input.resizedHeight * RGB_BYTES_PER_PIXEL * 2 +
      input.crop * input.crop * (INPUT_BYTES_PER_PIXEL + forward),
  );
}

/**
 * Bytes of working memory one segmentation in these inference-mode options holds at its peak, beyond the model,
 * for an image of width x height that the policy runs at policyWidth x policyHeight, with `classes` outputs:
 * - always: the decoded RGB image (3 B/pixel) and the class map (1 B/pixel);
 * - whole: the normalised input (12 B/pixel) and the 1/8-resolution logits;
 * - slide: per window its input and its crop-size logits (twice: the engine's and the upsampled copy), and the band
 *   of at most crop-height rows of summed logits (never a full-resolution map);
 * - augmented: the summed and the current probabilities at the original size, and the largest scale's logits at its
 *   size (plus its slide band).
 */
export function estimateModeBytes(
  opts: InferenceModeOptions,
  image: { width: number; height: number },
  policy: { width: number; height: number },
  classes: number,
): number {
  const pixels = image.width * image.height;
  let bytes = (RGB_BYTES_PER_PIXEL + CLASS_MAP_BYTES_PER_PIXEL) * pixels;
  const logits = FLOAT32_BYTES * classes;
  const runBytes = (width: number, height: number): number => {
    if (opts.mode === 'whole') return NORMALISED_BYTES_PER_PIXEL * width * height + logits * Math.ceil(width / LOGITS_STRIDE) * Math.ceil(height / LOGITS_STRIDE);
    const cropH = Math.min(opts.crop.height, height);
    const cropW = Math.min(opts.crop.width, width);
    return NORMALISED_BYTES_PER_PIXEL * cropH * cropW + 2 * logits * cropH * cropW + logits * cropH * width;
  };
  if (!isAugmented(opts)) return bytes + runBytes(policy.width, policy.height);
  const largest = scaledDims(policy.width, policy.height, Math.max(...opts.scales));
  bytes += 2 * logits * pixels;
  bytes += RGB_BYTES_PER_PIXEL * largest.width * largest.height + logits * largest.width * largest.height + runBytes(largest.width, largest.height);
  return bytes;
}

/**
 * Characters per element of a JSON tensor of the Open Inference Protocol, with its comma (the text is one byte per
 * character).
 */
const JSON_CHARS = { UINT8: 4, INT32: 12, FP32: 24 } as const;

/** One response tensor: JSON holds the typed array, its text, and the text encoded into the body; binary the array and its copy. */
function responseTensorBytes(elements: number, datatype: keyof typeof JSON_CHARS, binary: boolean): number {
  const bytes = elements * DATATYPE_BYTES[datatype];
  return binary ? bytes * 2 : bytes + elements * JSON_CHARS[datatype] * 2;
}

/**
 * Bytes of an Open Inference Protocol segmentation response's tensors, added to the request's estimate before
 * admission: class_ids at the image's size, logits [C, h, w] at 1/8 of the inference size.
 */
export function estimateOipOutputBytes(
  outputs: readonly { name: string; binary: boolean }[],
  facts: { imagePixels: number; inferenceWidth: number; inferenceHeight: number; numClasses: number; classIds: 'UINT8' | 'INT32' },
): number {
  let total = 0;
  for (const { name, binary } of outputs) {
    if (name === SEGMENTATION_OUTPUTS.classIds) total += responseTensorBytes(facts.imagePixels, facts.classIds, binary);
    else if (name === SEGMENTATION_OUTPUTS.logits) {
      const pixels = Math.ceil(facts.inferenceWidth / LOGITS_STRIDE) * Math.ceil(facts.inferenceHeight / LOGITS_STRIDE);
      total += responseTensorBytes(pixels * facts.numClasses, 'FP32', binary);
    }
  }
  return total;
}

/** A video frame's bytes on top of the image path's: it arrives and leaves as raw RGB. */
export function videoFrameBytes(width: number, height: number): number {
  return 2 * width * height * RGB_BYTES_PER_PIXEL;
}
