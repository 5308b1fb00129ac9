/** A calibration over images: each image's engine input observed in turn, then the artefact. */
import type { Float32Tensor } from '../engines/engine.js';
import type { FoldedNetwork } from '../fold.js';
import { makeArtefact, type QuantizationArtefact } from './artefact.js';
import { loadOnnxEngine, onnxMissingMessage } from '../engines/onnx-available.js';
import { QuantizationError } from './errors.js';

/** Default and ceiling of the images a calibration reads: each costs a forward pass and a sort of every observed tensor. */
export const CALIBRATION_IMAGES = { fallback: 100, max: 1000 } as const;
/** Default range estimate: measured better than min/max on street images (README, "INT8 (opt-in)"). */
export const DEFAULT_PERCENTILE = 99.99;

export interface CalibrationOptions {
  /** `minmax`, or `percentile` (per image, then averaged) at `percentile`. */
  method: 'minmax' | 'percentile';
  percentile?: number;
  /** Long side the images are run at (recorded in the artefact). */
  inferenceSize: number | 'native';
  weightsSource: string;
  threads?: number;
}

/**
 * Observes each input `next()` yields (NHWC float32, normalised; `undefined` ends; a thrown error is the caller's
 * to report) and returns the artefact. Throws QuantizationError when none was observed.
 */
export async function calibrateNetwork(net: FoldedNetwork, inputs: AsyncIterable<Float32Tensor>, opts: CalibrationOptions): Promise<QuantizationArtefact> {
  const percentile = opts.method === 'percentile' ? (opts.percentile ?? DEFAULT_PERCENTILE) : undefined;
  // Calibration runs on ONNX Runtime, an optional dependency: imported here, so a missing one is a clear error.
  const onnx = await loadOnnxEngine();
  if ('error' in onnx) throw new QuantizationError(`calibration needs ONNX Runtime: ${onnxMissingMessage(onnx.error)}`);
  const { Calibrator } = await import('./calibrate.js');
  const calibrator = await Calibrator.create(net, { percentile, threads: opts.threads });
  try {
    for await (const input of inputs) await calibrator.observe(input);
    if (calibrator.observed === 0) throw new QuantizationError('none of the calibration images could be read');
    const method = percentile === undefined ? 'minmax' : `percentile:${percentile}`;
    return makeArtefact(net, opts.weightsSource, { method, images: calibrator.observed, inferenceSize: opts.inferenceSize }, calibrator.result());
  } finally {
    await calibrator.dispose();
  }
}
