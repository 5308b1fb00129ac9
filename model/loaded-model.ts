import type { EngineName, InferenceEngine } from './engines/engine.js';

export type ArchName =
  | 'mobilenet_v3_large'
  | 'mobilenet_v3_small'
  | 'lraspp_mobilenet_v3_large'
  | 'lraspp_mobilenet_v3_small';

export type ModelTask = 'segmentation' | 'classification';

/** Where a model's weights came from; `trained: false` means the seeded random initialisation. */
export interface WeightsInfo {
  trained: boolean;
  /** File path or URL given by the user, or `seeded-init:<seed>` for the untrained default. */
  source: string;
  sha256: string | null;
}

/** A network ready to run, plus the facts the API reports about it. */
export interface LoadedModel {
  /** Unique name used in requests (`?model=`), defaults to the architecture name. */
  id: string;
  task: ModelTask;
  arch: ArchName;
  numClasses: number;
  parameterCount: number;
  weights: WeightsInfo;
  engineName: EngineName;
  engine: InferenceEngine;
}

/**
 * With weights, `arch` and `numClasses` are checks: the checkpoint says what it is (model/weights/fit.ts) and a
 * contradiction is a WeightsError. Without weights they choose the untrained model: `arch` defaults to the task's
 * default (lraspp_mobilenet_v3_large, or mobilenet_v3_large for classification), `numClasses` to 19 (Cityscapes) for
 * segmentation and 1000 (ImageNet) for classification.
 */
export interface LoadModelOptions {
  arch?: ArchName;
  numClasses?: number;
  /** The task the model serves; a checkpoint of the other task is refused. Default: `arch`'s task, else any. */
  task?: ModelTask;
  /** File path or http(s) URL of a torchvision checkpoint (.pth or .safetensors); absent → seeded untrained init. */
  weights?: string;
  /** Entry of a training checkpoint to load (e.g. `model_ema`); default: `state_dict`, `model` or `model_state_dict`. */
  weightsKey?: string;
  engine?: EngineName | 'auto';
  /** Intra-op threads for engines that split one inference across cores (ONNX Runtime); default: all cores. */
  threads?: number;
  /** Dynamic batching of concurrent same-size requests; off unless maxBatch > 1. */
  batching?: { maxBatch: number; maxWaitMs: number };
  cacheDir?: string;
  id?: string;
}
