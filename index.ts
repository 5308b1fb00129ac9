/**
 * cityseg's programmatic API, the package entry (`import { pipeline, encodeColor } from 'cityseg'`): a pipeline that
 * binds a model to everything its weights imply, and the functions the HTTP service and the CLI run, unchanged.
 *
 *   pipeline('segmentation' | 'classification', { weights })  → seg(image, options) and seg.dispose()
 *                                              (segmentation/task-pipeline.ts; image: bytes, a path or RGB pixels)
 *   loadModel({ arch, numClasses, weights? })  a torchvision checkpoint (path or URL), or the seeded untrained init
 *   segmentImage(model.engine, bytes, { size, maxPixels })  → { classMap: { data, width, height }, ... } at the
 *                                              image's own size, one class index per pixel (row-major Uint8Array)
 *   encodeLabelIds / encodeColor / ...         a class map → PNG bytes (Cityscapes label ids, colours, ...)
 *
 * Free a model's engine with `model.engine.dispose()`. README.md "Programmatic API" has a complete example.
 */
export { pipeline } from './segmentation/task-pipeline.js';
export type {
  ClassificationOutput,
  ClassificationPipeline,
  ClassifyCallOptions,
  PipelineImage,
  PipelineOptions,
  SegmentCallOptions,
  SegmentationOutput,
  SegmentationPipeline,
} from './segmentation/task-pipeline.js';
export { loadModel } from './model/load-model.js';
export { IMAGENET1K_V1_TRANSFORM, type ClassifierTransform, type ModelDescriptor } from './model/descriptor.js';
export type { ArchName, LoadedModel, LoadModelOptions, ModelTask, WeightsInfo } from './model/loaded-model.js';
export { ARCH_NAMES } from './model/architectures.js';
export { IMAGENET_CLASSES } from './model/imagenet-classes.js';
export { WeightsError } from './model/weights/errors.js';

export { classifyImage, segmentImage } from './segmentation/pipeline.js';
export type { ClassifyOptions, ClassifyResult, SegmentOptions, SegmentResult, SegmentTimings } from './segmentation/pipeline.js';
export type { ClassMap, RgbImage } from './segmentation/types.js';
export { DEFAULT_INFERENCE_SIZE, type InferenceSize } from './segmentation/preprocess.js';
export { encodeColor, encodeColorPalette, encodeLabelIds, encodeOverlay, encodeTrainIds } from './segmentation/encode.js';
export { checkClassCount, cityscapes, labelSetFor, voc, type LabelSet } from './segmentation/labels/index.js';
export { classStats, type ClassStat } from './segmentation/stats.js';
export { ClassCountMismatchError, ImageDecodeError, ImageTooLargeError, LabelSetError } from './segmentation/errors.js';
