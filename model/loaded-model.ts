import type { EngineName, InferenceEngine } from './engines/engine.js';
import type { ExecutionProvider } from './engines/execution-providers.js';
import type { Precision } from './quantize/precision.js';
import type { FetchOptions } from './weights/source.js';

import type { ArchName, ModelTask } from './architectures.js';
import type { ModelDescriptor } from './descriptor.js';

export type { ArchName, ModelTask };

/**
 * How the weights were chosen: the default preset fetched (`default-preset`), weights the user named (`given`), or
 * the seeded init because the user asked for it (`none`), because the default preset could not be had (`fallback`),
 * or because torchvision publishes none that fits the model asked for (`no-preset`).
 */
export type WeightsOrigin = 'default-preset' | 'given' | 'none' | 'fallback' | 'no-preset';

/** Where a model's weights came from; `trained: false` means the seeded random initialisation. */
export interface WeightsInfo {
  trained: boolean;
  /** File path, URL without credentials, or preset name given by the user, or `seeded-init:<seed>` when untrained. */
  source: string;
  sha256: string | null;
  /** Set by the server and the CLI, which choose default weights; absent for a programmatic loadModel. */
  origin?: WeightsOrigin;
  /** Why an untrained model is served instead of the default preset (`fallback`, `no-preset`). */
  detail?: string;
}

/** A network ready to run: its descriptor (what the weights are) plus the facts the API reports about it. */
export interface LoadedModel extends ModelDescriptor {
  /** Unique name used in requests (`?model=`), defaults to the architecture name. */
  id: string;
  parameterCount: number;
  weights: WeightsInfo;
  engineName: EngineName;
  engine: InferenceEngine;
}

/**
 * With weights, `arch` and `numClasses` are checks: the checkpoint says what it is (model/weights/fit.ts) and a
 * contradiction is a WeightsError. Without weights they choose the untrained model: `arch` defaults to the task's
 * default (lraspp_mobilenet_v3_large, or mobilenet_v3_large for classification), `numClasses` to 19 (Cityscapes) for
 * segmentation and 1000 (ImageNet) for classification (ARCHITECTURES' `defaultNumClasses`).
 */
export interface LoadModelOptions {
  arch?: ArchName;
  numClasses?: number;
  /** fastseg's head width F (64, 128, 256) of an untrained fastseg model; with weights the checkpoint says. */
  filters?: number;
  /** The task the model serves; a checkpoint of the other task is refused. Default: `arch`'s task, else any. */
  task?: ModelTask;
  /**
   * File path, http(s) URL or preset name (`torchvision:<arch>[.<VARIANT>]`) of a torchvision checkpoint (.pth or
   * .safetensors); absent or `none` → seeded untrained init.
   */
  weights?: string;
  /** Download mirror and limits for URLs and presets. */
  fetch?: FetchOptions;
  /** Entry of a training checkpoint to load (e.g. `model_ema`); default: `state_dict`, `model` or `model_state_dict`. */
  weightsKey?: string;
  engine?: EngineName | 'auto';
  /** Intra-op threads for engines that split one inference across cores (ONNX Runtime); default: all cores. */
  threads?: number;
  /** ONNX Runtime's execution provider (model/engines/execution-providers.ts); default cpu. */
  executionProvider?: ExecutionProvider;
  /** Dynamic batching of concurrent same-size requests; off unless maxBatch > 1. */
  batching?: { maxBatch: number; maxWaitMs: number };
  cacheDir?: string;
  id?: string;
  /** fp32 (default) or int8 (ONNX engine, with `quantization`: a `cityseg quantize` file); model/quantize/precision.ts. */
  precision?: Precision;
  quantization?: string;
}
