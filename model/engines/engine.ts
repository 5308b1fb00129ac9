/** A dense float32 tensor in row-major order; `shape` names every axis. */
export interface Float32Tensor {
  data: Float32Array;
  shape: number[];
  /**
   * Engine outputs only: milliseconds of the forward pass that produced this output, without time spent waiting for
   * the engine (SerialEngine), and how many images that pass held (BatchingEngine); absent when not measured.
   */
  forwardMs?: number;
  batchSize?: number;
}

export type EngineName = 'tfjs' | 'onnx';

/**
 * One loaded network behind a runtime. Routes and the CLI only see this, so a second runtime
 * (ONNX Runtime) slots in without touching them.
 *
 * Input: a batch of normalised RGB images, NHWC float32 `[N, H, W, 3]`.
 * Output, segmentation: the logits NHWC `[N, ceil(H/8), ceil(W/8), C]` *before* the final upsample,
 * so post-processing can upsample straight to any size (see segmentation/postprocess).
 * Output, classification: `[N, C]` logits.
 */
export interface InferenceEngine {
  readonly engine: EngineName;
  /** The runtime's own backend name, e.g. `tensorflow`, `wasm`, `cpu`, `onnxruntime-cpu`. */
  readonly backend: string;
  run(input: Float32Tensor): Promise<Float32Tensor>;
  dispose(): void;
}
