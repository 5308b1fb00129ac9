/** The precisions a model may run at and what each needs; no engine code, so settings can read it cheaply. */
export const PRECISIONS = ['fp32', 'int8'] as const;
export type Precision = (typeof PRECISIONS)[number];

export interface PrecisionOptions {
  /** Default fp32. */
  precision?: Precision;
  /** Path of the `cityseg quantize` file int8 needs. */
  quantization?: string;
}

/** Why a precision cannot run on an engine (`int8` is ONNX Runtime's QDQ graph), or undefined when it can. */
export function precisionProblem(opts: PrecisionOptions, engine: string): string | undefined {
  if (opts.precision !== 'int8') return undefined;
  if (engine === 'tfjs') return 'precision int8 runs on the onnx engine only; use --engine onnx (or auto) or --precision fp32';
  if (!opts.quantization) return 'precision int8 needs a quantisation file: make one with cityseg quantize --calibrate DIR --out FILE and pass --quantization FILE';
  return undefined;
}
