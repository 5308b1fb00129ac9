import type { ServedModel } from './model-registry.js';
import type { ServerConfig } from './config.js';
import type { ImageProbe } from '../segmentation/decode.js';
import { CLASSIFICATION_CROP, CLASSIFICATION_RESIZE, inferenceDims, shortSideResizeDims, type InferenceSize } from '../segmentation/preprocess.js';
import { estimateClassifyBytes, estimateSegmentBytes, type EncodeKind } from './working-memory.js';
import type { SegmentOutput } from './inference.js';
import { HttpProblem } from './problems.js';

/**
 * Everything decided about a request before any pixel work, from the image header and the parameters: limits
 * that would otherwise fail after inference (aspect ratio, the network's pixel cap, JPEG's side limit), and the
 * working memory to admit against the budget. Each refusal is a 4xx naming the limit and its setting.
 */

/** libjpeg's largest side (JPEG_MAX_DIMENSION); sharp fails past it only after the mask was computed. */
export const JPEG_MAX_SIDE = 65_500;

export type PlanLimits = Pick<ServerConfig, 'maxAspectRatio' | 'maxInferencePixels'>;

/** 422 when the image is more elongated than the server takes. */
export function checkAspectRatio(probe: ImageProbe, limits: PlanLimits): void {
  const long = Math.max(probe.width, probe.height);
  const short = Math.min(probe.width, probe.height);
  if (long > short * limits.maxAspectRatio) {
    throw new HttpProblem(
      'unprocessable-image',
      `image is ${probe.width}x${probe.height}, an aspect ratio over the limit of ${limits.maxAspectRatio}:1 (CITYSEG_MAX_ASPECT_RATIO)`,
    );
  }
}

export interface SegmentPlan {
  inferenceWidth: number;
  inferenceHeight: number;
  /** Bytes of working memory to reserve while the job runs (the body is charged separately, at the headers). */
  cost: number;
}

function encodeKind(output: SegmentOutput): EncodeKind {
  if (output.format === 'json') return output.rle ? 'jsonRle' : 'json';
  return output.format;
}

/** The checks and the memory estimate of a segmentation request. */
export function planSegment(probe: ImageProbe, size: InferenceSize, output: SegmentOutput, served: ServedModel, limits: PlanLimits): SegmentPlan {
  checkAspectRatio(probe, limits);
  const dims = inferenceDims(probe.width, probe.height, size);
  if (dims.width * dims.height > limits.maxInferencePixels) {
    throw new HttpProblem(
      'image-too-large',
      `inference at ${dims.width}x${dims.height} (size=${size}) is ${dims.width * dims.height} pixels, over the limit of ` +
        `${limits.maxInferencePixels} per forward pass (CITYSEG_MAX_INFERENCE_PIXELS): ask for a smaller size`,
    );
  }
  if (output.format === 'overlay' && output.overlayFormat === 'jpeg' && Math.max(probe.width, probe.height) > JPEG_MAX_SIDE) {
    throw new HttpProblem(
      'bad-parameter',
      `a JPEG overlay has at most ${JPEG_MAX_SIDE} pixels per side and this image is ${probe.width}x${probe.height}: use overlayFormat=png`,
    );
  }
  const cost = estimateSegmentBytes({
    bodyBytes: 0,
    width: probe.width,
    height: probe.height,
    inferenceWidth: dims.width,
    inferenceHeight: dims.height,
    arch: served.model.arch,
    engine: served.model.engineName,
    encode: encodeKind(output),
  });
  return { inferenceWidth: dims.width, inferenceHeight: dims.height, cost };
}

/** The checks and the memory estimate of a classification request (torchvision's Resize(256) + CenterCrop(224)). */
export function planClassify(probe: ImageProbe, served: ServedModel, limits: PlanLimits): { cost: number } {
  checkAspectRatio(probe, limits);
  const resized = shortSideResizeDims(probe.width, probe.height, CLASSIFICATION_RESIZE);
  const cost = estimateClassifyBytes({
    bodyBytes: 0,
    width: probe.width,
    height: probe.height,
    resizedWidth: resized.width,
    resizedHeight: resized.height,
    crop: CLASSIFICATION_CROP,
    arch: served.model.arch,
    engine: served.model.engineName,
  });
  return { cost };
}
