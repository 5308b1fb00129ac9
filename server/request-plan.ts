import type { ServedModel } from './model-registry.js';
import { minInputSide } from '../model/fastseg.js';
import type { ServerConfig } from './config.js';
import type { ImageProbe } from '../segmentation/decode.js';
import { classifierTransformOf } from '../model/descriptor.js';
import { inferenceDims, shortSideResizeDims, type InferenceSize } from '../segmentation/preprocess.js';
import { estimateClassifyBytes, estimateModeBytes, estimateOipOutputBytes, estimateSegmentBytes, forwardBytes, type EncodeKind } from './working-memory.js';
import { classIdsDatatype } from './oip/response.js';
import type { SegmentOutput } from './inference.js';
import { HttpProblem } from './problems.js';
import { checkForwardPasses, checkMinimumSide, isPlainWhole, scaledDims, type InferenceModeOptions } from '../segmentation/inference-modes/index.js';

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
  /** The forward pass's share of `cost`: what the engine's arena keeps afterwards. */
  forward: number;
}

function encodeKind(output: SegmentOutput): EncodeKind {
  // The protocol's class_ids are the binary class map labelIds PNGs hold before zlib; its tensors are counted apart.
  if (output.format === 'oip') return 'labelIds';
  if (output.format === 'json') return output.rle ? 'jsonRle' : 'json';
  return output.format;
}

/**
 * The largest input of one forward pass: the policy's size for a whole pass, a window for slide (the crop, or the
 * image where it is smaller), each scaled by the largest test-time scale.
 */
function largestPass(policy: { width: number; height: number }, mode: InferenceModeOptions | undefined): { width: number; height: number } {
  if (!mode) return policy;
  const scaled = scaledDims(policy.width, policy.height, Math.max(...mode.scales));
  if (mode.mode !== 'slide') return scaled;
  return { width: Math.min(mode.crop.width, scaled.width), height: Math.min(mode.crop.height, scaled.height) };
}

/** The checks and the memory estimate of a segmentation request (`mode`: slide / test-time augmentation). */
export function planSegment(
  probe: ImageProbe,
  size: InferenceSize,
  output: SegmentOutput,
  served: ServedModel,
  limits: PlanLimits,
  mode?: InferenceModeOptions,
): SegmentPlan {
  checkAspectRatio(probe, limits);
  // Raised to the model's minimum side, or a 400 when `size` cannot reach it; mode passes below it are refused too.
  const minSide = minInputSide(served.model.arch);
  const policy = inferenceDims(probe.width, probe.height, size, minSide);
  if (mode) checkMinimumSide(mode, policy, minSide);
  const dims = largestPass(policy, mode);
  if (dims.width * dims.height > limits.maxInferencePixels) {
    const what = mode?.mode === 'slide' ? 'a window' : `inference at size=${size}`;
    throw new HttpProblem(
      'image-too-large',
      `${what} runs at ${dims.width}x${dims.height}, ${dims.width * dims.height} pixels, over the limit of ` +
        `${limits.maxInferencePixels} per forward pass (CITYSEG_MAX_INFERENCE_PIXELS): ask for a smaller size` +
        (mode?.mode === 'slide' ? ' or crop' : ' or mode=slide'),
    );
  }
  // Its InvalidArgumentError is a 400 naming the parameter (server/error-mapping.ts).
  if (mode) checkForwardPasses(mode, policy.width, policy.height);
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
  // Slide bands and augmented probability maps come on top of one pass's memory.
  const modeBytes = mode && !isPlainWhole(mode) ? estimateModeBytes(mode, probe, policy, served.model.numClasses) : 0;
  const forward = forwardBytes(served.model.engineName, served.model.arch, dims.width * dims.height);
  return { inferenceWidth: dims.width, inferenceHeight: dims.height, cost: cost + modeBytes + oipBytes(output, probe, dims, served), forward };
}

/** The Open Inference Protocol's response tensors, on top of the class map's encoding. */
function oipBytes(output: SegmentOutput, probe: ImageProbe, dims: { width: number; height: number }, served: ServedModel): number {
  if (output.format !== 'oip') return 0;
  if (!served.labelSet) throw new TypeError(`segmentation model ${served.model.id} has no label set`);
  return estimateOipOutputBytes(output.outputs, {
    imagePixels: probe.width * probe.height,
    inferenceWidth: dims.width,
    inferenceHeight: dims.height,
    numClasses: served.model.numClasses,
    classIds: classIdsDatatype(served.labelSet),
  });
}

/** The checks and the memory estimate of a classification request (the weights' resize and centre crop). */
export function planClassify(probe: ImageProbe, served: ServedModel, limits: PlanLimits): { cost: number; forward: number } {
  checkAspectRatio(probe, limits);
  const { resizeShortSide, cropSize } = classifierTransformOf(served.model);
  const resized = shortSideResizeDims(probe.width, probe.height, resizeShortSide);
  const cost = estimateClassifyBytes({
    bodyBytes: 0,
    width: probe.width,
    height: probe.height,
    resizedWidth: resized.width,
    resizedHeight: resized.height,
    crop: cropSize,
    arch: served.model.arch,
    engine: served.model.engineName,
  });
  return { cost, forward: forwardBytes(served.model.engineName, served.model.arch, cropSize * cropSize) };
}
