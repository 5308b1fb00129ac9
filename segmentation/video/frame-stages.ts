/**
 * A video frame's pixel work in two halves around the forward pass, so a worker thread can run them while the engine
 * runs another frame: prepareFrame (resize to the inference size, normalise) before it, finishFrame (upsample and
 * argmax to the frame's size, the video formats drawn, the classes) after it. They are segmentImage's own stages, so
 * a frame's mask equals the image path's on the same pixels.
 */
import { performance } from 'node:perf_hooks';
import type { Float32Tensor } from '../../model/engines/engine.js';
import type { LabelSet } from '../labels/types.js';
import { checkSegmentationLogits } from '../pipeline.js';
import { upsampleArgmax } from '../postprocess.js';
import { normalizeImageNet, resizeForInference, type InferenceSize } from '../preprocess.js';
import type { ClassMap, RgbImage } from '../types.js';
import { drawFrame, type FrameClass, type VideoFormat } from './frame.js';

export interface PreparedFrame {
  /** NHWC float32 `[1, h, w, 3]`, ImageNet-normalised: the engine's input. */
  input: Float32Tensor;
  inferenceSize: { width: number; height: number };
  resizeMs: number;
  normalizeMs: number;
}

/** The frame resized by the inference-size policy (`minSide` as inferenceDims) and normalised. */
export async function prepareFrame(image: RgbImage, size: InferenceSize, minSide?: number): Promise<PreparedFrame> {
  const started = performance.now();
  const resized = await resizeForInference(image, size, minSide);
  const resizedAt = performance.now();
  const input = normalizeImageNet(resized);
  return { input, inferenceSize: { width: resized.width, height: resized.height }, resizeMs: resizedAt - started, normalizeMs: performance.now() - resizedAt };
}

export interface FrameDrawing {
  formats: readonly VideoFormat[];
  labelSet: LabelSet;
  /** Overlay weight of the mask colour, 0..1. */
  alpha: number;
  /** Each class's COCO RLE in the classes. */
  rle: boolean;
}

export interface FinishedFrame {
  /** Class indices at the frame's size. */
  classMap: ClassMap;
  /** One RGB picture per format of `formats`, `width * height * 3` bytes each. */
  pictures: Uint8Array[];
  classes: FrameClass[];
  postprocessMs: number;
  renderMs: number;
}

/** The engine's logits for `image` → its class map, pictures and classes. Throws ShapeError for logits not `[1, h, w, C]`. */
export function finishFrame(image: RgbImage, logits: Float32Tensor, drawing: FrameDrawing): FinishedFrame {
  checkSegmentationLogits(logits);
  const started = performance.now();
  const classMap = upsampleArgmax(logits, image.height, image.width);
  const upsampledAt = performance.now();
  const { pictures, classes } = drawFrame(image, classMap, drawing.labelSet, drawing);
  return { classMap, pictures, classes, postprocessMs: upsampledAt - started, renderMs: performance.now() - upsampledAt };
}
