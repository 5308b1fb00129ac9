/** The numeric precision a model runs at, and what int8 needs: the ONNX engine and a matching quantisation file. */
import type { OnnxModelOptions } from '../engines/onnx-graph.js';
import type { FoldedNetwork } from '../fold.js';
import { activationTable, readArtefactFor } from './artefact.js';
import { QuantizationError } from './errors.js';
import { precisionProblem, type PrecisionOptions } from './precision-options.js';
import { int8Ops } from './qdq-ops.js';

export { PRECISIONS, precisionProblem, type Precision, type PrecisionOptions } from './precision-options.js';

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
