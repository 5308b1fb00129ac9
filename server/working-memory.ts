import type { EngineName } from '../model/engines/engine.js';
import type { ArchName } from '../model/loaded-model.js';

/**
 * Working memory of one request, estimated before any pixel is decoded from what it asks for: the body it sent,
 * the decoded size (image header), the size the network runs at, and the output format. The numbers are
 * upper bounds measured on this project's machines (peak RSS above the baseline, `scripts/attack.ts`); they
 * include memory that is freed but not yet collected by V8's GC, which is why they are sums, not maxima.
 */

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
/** Bytes per inference pixel outside the engine: the resized RGB (3) and the normalised float32 input (12). */
const INPUT_BYTES_PER_PIXEL = 15;
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

/** The engine's share of a pass: ONNX Runtime's arena keeps it after the pass (see the inference queue). */
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
      input.resizedWidth * input.resizedHeight * 3 * 2 +
      input.crop * input.crop * (INPUT_BYTES_PER_PIXEL + forward),
  );
}
