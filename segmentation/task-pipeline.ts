/**
 * The package's one-call API, as transformers.js's `pipeline(task, model)`: a model loaded once with everything its
 * weights imply (engine, the classifier's transform, the label set), then called on images.
 *
 *   const seg = await pipeline('segmentation', { weights: 'torchvision:lraspp_mobilenet_v3_large' });
 *   const { classMap, labelSet } = await seg('street.jpg');
 *   seg.dispose();
 */
import { readFile } from 'node:fs/promises';
import { classifierTransformOf, UNTRAINED_DEFAULTS } from '../model/descriptor.js';
import { classifierLabels } from '../model/imagenet-classes.js';
import { loadModel } from '../model/load-model.js';
import type { LoadedModel, LoadModelOptions, ModelTask } from '../model/loaded-model.js';
import { defaultPresetFor } from '../model/weights/presets.js';
import { NO_WEIGHTS } from '../model/weights/weights-choice.js';
import { CALLER_CHOSEN_MAX_PIXELS } from './decode.js';
import type { InferenceModeOptions } from './inference-modes/index.js';
import { labelSetNameForClassCount } from './labels/for-class-count.js';
import { checkClassCount, labelSetFor, type LabelSet } from './labels/index.js';
import { classifyImage, segmentImage, type ClassifyResult, type SegmentResult } from './pipeline.js';
import { DEFAULT_INFERENCE_SIZE, type InferenceSize } from './preprocess.js';
import type { RgbImage } from './types.js';

/** Encoded image bytes (PNG, JPEG, WebP, ...), a path to an image file, or decoded 8-bit RGB pixels. */
export type PipelineImage = Uint8Array | string | RgbImage;

export interface PipelineOptions extends Omit<LoadModelOptions, 'task'> {
  /**
   * A preset name (`torchvision:<arch>[.<VARIANT>]`), a checkpoint path or URL, or `none` (the seeded untrained
   * network). Default: torchvision's default weights for `arch` (else the task's default architecture), downloaded
   * once into the cache.
   */
  weights?: string;
  /** Segmentation: `cityscapes`, `voc` or a label file; default: the weights' (a preset's), else the class count's. */
  labels?: string;
}

/** Per call: the decoded-size limit (default CALLER_CHOSEN_MAX_PIXELS, 2^31). */
interface CallOptions {
  maxPixels?: number;
}

export interface SegmentCallOptions extends CallOptions {
  /** The long side the network runs at, or 'native' (default 1024). */
  size?: InferenceSize;
  /** Slide or test-time augmentation (segmentation/inference-modes); default: one whole pass. */
  mode?: InferenceModeOptions;
}

export interface ClassifyCallOptions extends CallOptions {
  /** How many classes to return, most probable first (default 5). */
  topk?: number;
}

/** What a segmentation pipeline answers: the class map at the image's size and the label set its indices mean. */
export interface SegmentationOutput extends Omit<SegmentResult, 'logits'> {
  labelSet: LabelSet;
}

/** What a classification pipeline answers: `top`, the classes with index, label and probability, most probable first. */
export type ClassificationOutput = ClassifyResult;

interface Bound {
  /** The loaded model: its descriptor (arch, task, numClasses, labels, preprocessing), weights and engine. */
  readonly model: LoadedModel;
  /** Frees the engine; the pipeline cannot be called afterwards. */
  dispose(): void;
}

export interface SegmentationPipeline extends Bound {
  (image: PipelineImage, options?: SegmentCallOptions): Promise<SegmentationOutput>;
  readonly labelSet: LabelSet;
}

export interface ClassificationPipeline extends Bound {
  (image: PipelineImage, options?: ClassifyCallOptions): Promise<ClassificationOutput>;
  readonly labels: readonly string[];
}

const imageOf = async (image: PipelineImage): Promise<Uint8Array | RgbImage> => (typeof image === 'string' ? readFile(image) : image);

/** The weights to load: the caller's, else the default preset of the arch asked for or the task's default arch (none: untrained). */
function weightsOf(task: ModelTask, options: PipelineOptions): string {
  return options.weights ?? defaultPresetFor(options.arch ?? UNTRAINED_DEFAULTS[task].arch)?.name ?? NO_WEIGHTS;
}

/**
 * Loads a model for `task` and binds it: `pipeline('segmentation', { weights })` answers class maps with their label
 * set, `pipeline('classification', { weights })` the top classes through the weights' own transform (232 → 224 for
 * IMAGENET1K_V2). Throws what loadModel throws (WeightsError for weights that are unreadable, of the other task or
 * contradicting `arch` / `numClasses`), LabelSetError / ClassCountMismatchError for a label set that does not fit.
 */
export async function pipeline(task: 'segmentation', options?: PipelineOptions): Promise<SegmentationPipeline>;
export async function pipeline(task: 'classification', options?: PipelineOptions): Promise<ClassificationPipeline>;
export async function pipeline(task: ModelTask, options: PipelineOptions = {}): Promise<SegmentationPipeline | ClassificationPipeline> {
  const { labels, ...load } = options;
  const model = await loadModel({ ...load, task, weights: weightsOf(task, options) });
  const dispose = () => model.engine.dispose();
  try {
    if (task === 'classification') {
      const names = classifierLabels(model.numClasses);
      const classify = async (image: PipelineImage, call: ClassifyCallOptions = {}): Promise<ClassificationOutput> =>
        classifyImage(model.engine, await imageOf(image), {
          maxPixels: call.maxPixels ?? CALLER_CHOSEN_MAX_PIXELS,
          topk: call.topk ?? 5,
          labels: names,
          transform: classifierTransformOf(model),
        });
      return Object.assign(classify, { model, labels: names, dispose });
    }
    const labelSet = await labelSetFor(labels ?? model.labels ?? labelSetNameForClassCount(model.numClasses));
    checkClassCount(labelSet, model.numClasses);
    const segment = async (image: PipelineImage, call: SegmentCallOptions = {}): Promise<SegmentationOutput> => {
      const size = call.size ?? DEFAULT_INFERENCE_SIZE;
      const result = await segmentImage(model.engine, await imageOf(image), { size, maxPixels: call.maxPixels ?? CALLER_CHOSEN_MAX_PIXELS }, call.mode);
      return { ...result, labelSet };
    };
    return Object.assign(segment, { model, labelSet, dispose });
  } catch (error) {
    dispose();
    throw error;
  }
}
