/** Errors of the ONNX export and the ONNX Runtime engine, typed so callers can tell them from runtime bugs. */

/** The graph cannot be emitted as asked (e.g. an opset the exporter does not target). */
export class OnnxGraphError extends Error {
  override readonly name = 'OnnxGraphError';
}

/** The ONNX Runtime engine was used wrongly: bad input tensor, or used after dispose. */
export class OnnxEngineError extends Error {
  override readonly name = 'OnnxEngineError';
}
