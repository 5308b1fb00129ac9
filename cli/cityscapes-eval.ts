/**
 * Model evaluation on a Cityscapes tree: every `leftImg8bit/<split>/**\/*_leftImg8bit.png` is segmented in
 * memory and scored against `gtFine/<split>` like the official script, without writing predictions.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { glob } from 'tinyglobby';
import type { InferenceEngine } from '../model/engines/engine.js';
import { EvalError, MissingInstanceFileError } from '../segmentation/eval/errors.js';
import { evaluateArrays, labelIdsFromTrainIds, type EvalPair, type EvalResult } from '../segmentation/eval/evaluate.js';
import { fileExists, findGroundTruthFiles, instanceFileFor, parseCityscapesName, readInstanceIdPng, readLabelIdPng } from '../segmentation/eval/files.js';
import { segmentImage } from '../segmentation/pipeline.js';
import type { InferenceModeOptions } from '../segmentation/inference-modes/index.js';
import type { InferenceSize } from '../segmentation/preprocess.js';

const IMAGE_SUFFIX = '_leftImg8bit.png';

/** One ground-truth image and the camera image the model segments for it. */
export interface CityscapesSample {
  image: string;
  groundTruth: string;
  /** `*_gtFine_instanceIds.png`, or null when the tree has none (then iIoU is not computed). */
  instances: string | null;
}

/** A ground-truth file without its camera image. */
export class MissingImageError extends EvalError {
  override name = 'MissingImageError';
  readonly groundTruth: string;
  readonly expectedImage: string;
  constructor(
    groundTruth: string,
    expectedImage: string,
  ) {
    super(`ground truth ${groundTruth} has no camera image ${expectedImage}`);
    this.groundTruth = groundTruth;
    this.expectedImage = expectedImage;
  }
}

function framePrefix(file: string): string {
  const { city, sequenceNb, frameNb } = parseCityscapesName(file);
  return `${city}_${sequenceNb}_${frameNb}`;
}

/**
 * Pairs every ground truth of the split with its image (by `<city>_<seq>_<frame>`), before any model
 * runs, so a missing image or instance file fails fast. Sorted like the ground-truth files.
 */
export async function findCityscapesSamples(root: string, split: string): Promise<CityscapesSample[]> {
  const imageDir = path.join(root, 'leftImg8bit', split);
  const groundTruths = await findGroundTruthFiles(path.join(root, 'gtFine', split));
  const images = await glob(`**/*${IMAGE_SUFFIX}`, { cwd: imageDir, absolute: true });
  const imageByPrefix = new Map(images.map((image) => [framePrefix(image), image]));
  const instanceFiles = groundTruths.map(instanceFileFor);
  const present = await Promise.all(instanceFiles.map(fileExists));
  // iIoU over only part of the images would be wrong; the script refuses the same way.
  const missing = present.indexOf(false);
  if (missing >= 0 && present.includes(true)) throw new MissingInstanceFileError(groundTruths[missing], instanceFiles[missing]);
  return groundTruths.map((groundTruth, i) => {
    const prefix = framePrefix(groundTruth);
    const image = imageByPrefix.get(prefix);
    if (!image) throw new MissingImageError(groundTruth, path.join(imageDir, '**', `${prefix}${IMAGE_SUFFIX}`));
    return { image, groundTruth, instances: present[i] ? instanceFiles[i] : null };
  });
}

export interface ModelEvalOptions {
  engine: InferenceEngine;
  size: InferenceSize;
  /** The network's smallest accepted side (model/fastseg.ts minInputSide). */
  minSide?: number;
  maxPixels: number;
  /** Whole, slide, test-time augmentation (default: one whole pass). */
  mode?: InferenceModeOptions;
  /** Called after each image is scored. */
  onImage?: (sample: CityscapesSample) => void;
}

/** The model's trainIds as label ids, paired with the ground truth (read while the model runs). */
async function* predictedPairs(samples: readonly CityscapesSample[], opts: ModelEvalOptions): AsyncGenerator<EvalPair> {
  for (const sample of samples) {
    const [segmented, groundTruth, instances] = await Promise.all([
      readFile(sample.image).then((bytes) => segmentImage(opts.engine, bytes, { size: opts.size, minSide: opts.minSide, maxPixels: opts.maxPixels }, opts.mode)),
      readLabelIdPng(sample.groundTruth),
      sample.instances ? readInstanceIdPng(sample.instances) : undefined,
    ]);
    yield { groundTruth, prediction: labelIdsFromTrainIds(segmented.classMap, `model prediction for ${sample.image}`), instances };
    opts.onImage?.(sample);
  }
}

export function evaluateModelOnSamples(samples: readonly CityscapesSample[], opts: ModelEvalOptions): Promise<EvalResult> {
  return evaluateArrays(predictedPairs(samples, opts));
}
