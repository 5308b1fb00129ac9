/**
 * `cityseg export-onnx`: the model as a standalone ONNX file with torchvision's interface (NCHW in, `out` at the
 * input size), for Triton, onnxruntime in Python or any other ONNX runtime.
 */
import { writeFile } from 'node:fs/promises';
import { buildOnnxModel, DEFAULT_OPSET, INPUT_NAME, OUTPUT_NAMES } from './engines/onnx-graph.js';
import type { LoadModelOptions, WeightsInfo } from './loaded-model.js';
import { prepareNetwork } from './load-model.js';

export interface ExportOnnxOptions extends LoadModelOptions {
  /** Path of the .onnx file to write (overwritten if present). */
  out: string;
  opset?: number;
}

export interface ExportOnnxResult {
  out: string;
  bytes: number;
  opset: number;
  inputName: string;
  outputName: string;
  weights: WeightsInfo;
  parameterCount: number;
}

export async function exportOnnx(opts: ExportOnnxOptions): Promise<ExportOnnxResult> {
  const prepared = await prepareNetwork(opts);
  const opset = opts.opset ?? DEFAULT_OPSET;
  const model = buildOnnxModel(prepared.network, {
    layout: 'torchvision',
    opset,
    weightsSource: prepared.weights.source,
    weightsSha256: prepared.weights.sha256,
  });
  await writeFile(opts.out, model);
  return {
    out: opts.out,
    bytes: model.byteLength,
    opset,
    inputName: INPUT_NAME,
    outputName: OUTPUT_NAMES.torchvision,
    weights: prepared.weights,
    parameterCount: prepared.parameterCount,
  };
}
