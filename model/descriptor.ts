/**
 * What a model is, bound to its weights as torchvision binds `transforms` and `meta["categories"]` to a Weights
 * entry: architecture and task (ARCHITECTURES), class count, label set and eval transform. The pipeline applies
 * it; /v1/models, the Open Inference Protocol's metadata, the CLI and the web page report it.
 */
import { ARCHITECTURES, type ArchName, type ModelTask } from './architectures.js';
import { IMAGENET_CLASSES } from './imagenet-classes.js';
import type { WeightsPreset } from './weights/presets.js';

/**
 * A classifier's eval transform, torchvision's ImageClassification: the short side resized to `resizeShortSide`
 * pixels (PIL's bilinear resampler), then a `cropSize` x `cropSize` centre crop, then ImageNet's mean and std.
 */
export interface ClassifierTransform {
  resizeShortSide: number;
  cropSize: number;
}

/**
 * torchvision's `MobileNet_V3_*_Weights.IMAGENET1K_V1.transforms()`: Resize(256) + CenterCrop(224). Classifier
 * weights given by file (no preset to say otherwise) are run with it.
 */
export const IMAGENET1K_V1_TRANSFORM: ClassifierTransform = { resizeShortSide: 256, cropSize: 224 };

/** The untrained model's architecture per task; its class count is the architecture's `defaultNumClasses`. */
export const UNTRAINED_DEFAULTS: Record<ModelTask, { arch: ArchName }> = {
  segmentation: { arch: 'fastseg_mobilev3_large' },
  classification: { arch: 'mobilenet_v3_large' },
};

/** The class count of the task's untrained model (19 Cityscapes train ids, 1000 ImageNet classes). */
export function untrainedNumClasses(task: ModelTask): number {
  return ARCHITECTURES[UNTRAINED_DEFAULTS[task].arch].defaultNumClasses;
}

/** The facts bound to one set of weights (or to the seeded init). */
export interface ModelDescriptor {
  arch: ArchName;
  task: ModelTask;
  numClasses: number;
  /**
   * The label set the outputs mean when the weights say (a preset's `voc`, `cityscapes`, `imagenet`), or `imagenet`
   * for any 1000-class classifier; absent for a segmentation checkpoint file or the seeded init, whose classes are
   * named by class count (segmentation/labels/for-class-count.ts) or by the label set the user gives.
   */
  labels?: string;
  /** Classifiers: the transform the weights were evaluated with. Segmentation models follow the inference-size policy. */
  preprocessing?: ClassifierTransform;
}

/**
 * The descriptor of `arch` with `numClasses` outputs and the weights' `preset`, if they came from one: its label set
 * and, for a classifier, its transform (IMAGENET1K_V2: 232 → 224); without a preset, torchvision's V1 transform.
 */
export function describeNetwork(arch: ArchName, numClasses: number, preset?: WeightsPreset): ModelDescriptor {
  const task = ARCHITECTURES[arch].task;
  const name = preset?.labels ?? (task === 'classification' && numClasses === IMAGENET_CLASSES.length ? 'imagenet' : undefined);
  const labels = name === undefined ? {} : { labels: name };
  if (task !== 'classification') return { arch, task, numClasses, ...labels };
  const crop = preset?.preprocessing.cropSize;
  const resize = preset?.preprocessing.resizeShortSide;
  const preprocessing = crop !== undefined && resize != null ? { resizeShortSide: resize, cropSize: crop } : undefined;
  return { arch, task, numClasses, ...labels, preprocessing: classifierTransformOf({ preprocessing }) };
}

/** A classifier's transform: its descriptor's, else (a model described by hand) torchvision's V1 transform. */
export function classifierTransformOf(model: Pick<ModelDescriptor, 'preprocessing'>): ClassifierTransform {
  return model.preprocessing ?? IMAGENET1K_V1_TRANSFORM;
}
