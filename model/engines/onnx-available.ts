/**
 * ONNX Runtime is a native addon with prebuilt binaries for a few platforms only; `engine: 'auto'` uses it where
 * it loads and falls back to TensorFlow.js elsewhere. The import is dynamic so a missing binding is not fatal.
 */
import type { OnnxEngine } from './onnx-engine.js';

let loading: Promise<typeof OnnxEngine | undefined> | undefined;

/** The OnnxEngine class, or undefined when onnxruntime-node cannot load here (checked once per process). */
export function tryLoadOnnxEngine(): Promise<typeof OnnxEngine | undefined> {
  loading ??= import('./onnx-engine.js').then(
    (m) => m.OnnxEngine,
    () => undefined,
  );
  return loading;
}
