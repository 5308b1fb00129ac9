/**
 * ONNX Runtime execution providers cityseg offers: the CPU one (its binaries are in the onnxruntime-node package) and
 * CUDA (its libraries fetched at install with ONNXRUNTIME_NODE_INSTALL=cuda12). Apart from onnx-engine.ts so that
 * reading the settings does not load ONNX Runtime.
 */
export const EXECUTION_PROVIDERS = ['cpu', 'cuda'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];
