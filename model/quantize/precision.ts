/** The numeric precision a model runs at, and what int8 needs: the ONNX engine and a matching quantisation file. */
import type { OnnxModelOptions } from '../engines/onnx-graph.js';
import type { FoldedNetwork } from '../fold.js';
import { activationTable, readArtefactFor } from './artefact.js';
import { QuantizationError } from './errors.js';
import { int8Ops } from './qdq-ops.js';

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

/**
 * The `opsFor` that builds this precision's ONNX graph: undefined for fp32; for int8 the QDQ ops with the
 * artefact's activation parameters. Throws QuantizationError for a missing, unreadable or mismatched file.
 */
export async function onnxOpsFor(net: FoldedNetwork, opts: PrecisionOptions): Promise<OnnxModelOptions['opsFor']> {
  const problem = precisionProblem(opts, 'onnx');
  if (problem) throw new QuantizationError(problem);
  if (opts.precision !== 'int8') return undefined;
  return int8Ops(activationTable(await readArtefactFor(opts.quantization!, net)));
}
