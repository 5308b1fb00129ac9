/**
 * The quantisation artefact `cityseg quantize` writes and `--precision int8` reads: a JSON file with each quantised
 * activation's range, uint8 scale and zero point, keyed by the tensor names of our ONNX graph, plus the digest of
 * the folded weights they were measured on, so ranges are never applied to another network. Weight scales are not
 * stored: they follow from the weights (per-channel max |w| / 127) when the int8 graph is built.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { FoldedNetwork } from '../fold.js';
import { convsOf, linearsOf } from '../network-spec.js';
import type { ActivationQuantization } from './qdq-ops.js';
import { QuantizationError } from './errors.js';

export const ARTEFACT_FORMAT = 'cityseg-int8-quantization';
export const ARTEFACT_VERSION = 1;

export interface ActivationRange {
  min: number;
  max: number;
}

export interface CalibrationFacts {
  /** How ranges were taken from the observed values: `minmax`, or `percentile:<p>` of |values| per tensor. */
  method: string;
  images: number;
  /** Long side the calibration images were run at. */
  inferenceSize: number | 'native';
}

export interface QuantizationArtefact {
  format: typeof ARTEFACT_FORMAT;
  version: typeof ARTEFACT_VERSION;
  arch: string;
  numClasses: number;
  /** sha256 of the folded weights (model/quantize/artefact.ts networkSha256), whatever file they came from. */
  networkSha256: string;
  weightsSource: string;
  calibration: CalibrationFacts;
  activations: Record<string, ActivationRange & ActivationQuantization>;
}

/**
 * sha256 (hex) of a folded network's weights and biases in layer order, as little-endian float32: the same for a
 * checkpoint saved as .pth or .safetensors, different for any changed value.
 */
export function networkSha256(net: FoldedNetwork): string {
  const hash = createHash('sha256');
  for (const c of convsOf(net)) hash.update(c.weight).update(new Uint8Array(c.filter.buffer, c.filter.byteOffset, c.filter.byteLength)).update(new Uint8Array(c.biasValues.buffer, c.biasValues.byteOffset, c.biasValues.byteLength));
  for (const l of linearsOf(net)) hash.update(l.weight).update(new Uint8Array(l.matrix.buffer, l.matrix.byteOffset, l.matrix.byteLength)).update(new Uint8Array(l.biasValues.buffer, l.biasValues.byteOffset, l.biasValues.byteLength));
  return hash.digest('hex');
}

/** uint8 asymmetric parameters of a range widened to hold 0 (so zero padding is exact): scale = (max - min) / 255. */
export function uint8Quantization({ min, max }: ActivationRange): ActivationQuantization {
  const lo = Math.min(min, 0);
  const hi = Math.max(max, 0);
  const scale = hi > lo ? (hi - lo) / 255 : 1;
  return { scale, zeroPoint: Math.max(0, Math.min(255, Math.round(-lo / scale))) };
}

export function makeArtefact(net: FoldedNetwork, weightsSource: string, calibration: CalibrationFacts, ranges: ReadonlyMap<string, ActivationRange>): QuantizationArtefact {
  const activations: QuantizationArtefact['activations'] = {};
  for (const [name, range] of ranges) activations[name] = { ...range, ...uint8Quantization(range) };
  return { format: ARTEFACT_FORMAT, version: ARTEFACT_VERSION, arch: net.arch, numClasses: net.numClasses, networkSha256: networkSha256(net), weightsSource, calibration, activations };
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** Checks a parsed artefact's shape; throws QuantizationError naming the file and what is wrong. */
export function parseArtefact(text: string, file: string): QuantizationArtefact {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new QuantizationError(`${file} is not JSON: ${(error as Error).message}`);
  }
  const a = value as Partial<QuantizationArtefact> | null;
  if (!a || typeof a !== 'object' || a.format !== ARTEFACT_FORMAT) throw new QuantizationError(`${file} is not a cityseg quantisation file (format ${ARTEFACT_FORMAT}); make one with cityseg quantize`);
  if (a.version !== ARTEFACT_VERSION) throw new QuantizationError(`${file} has version ${String(a.version)}; this cityseg reads version ${ARTEFACT_VERSION}`);
  if (typeof a.arch !== 'string' || !Number.isInteger(a.numClasses) || typeof a.networkSha256 !== 'string' || !a.activations || typeof a.activations !== 'object') {
    throw new QuantizationError(`${file} lacks arch, numClasses, networkSha256 or activations`);
  }
  for (const [name, q] of Object.entries(a.activations)) {
    if (!isFiniteNumber(q.scale) || !(q.scale > 0) || !Number.isInteger(q.zeroPoint) || q.zeroPoint < 0 || q.zeroPoint > 255) {
      throw new QuantizationError(`${file}: tensor ${name} needs a positive scale and a zeroPoint in 0..255`);
    }
  }
  return a as QuantizationArtefact;
}

/** Reads an artefact and refuses it unless it was calibrated on exactly this network (arch, classes, weights). */
export async function readArtefactFor(file: string, net: FoldedNetwork): Promise<QuantizationArtefact> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new QuantizationError(`cannot read the quantisation file ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  const artefact = parseArtefact(text, file);
  checkArtefactFits(artefact, net, file);
  return artefact;
}

export function checkArtefactFits(artefact: QuantizationArtefact, net: FoldedNetwork, file: string): void {
  if (artefact.arch !== net.arch || artefact.numClasses !== net.numClasses) {
    throw new QuantizationError(`${file} was calibrated for ${artefact.arch} with ${artefact.numClasses} classes, the model is ${net.arch} with ${net.numClasses}`);
  }
  const digest = networkSha256(net);
  if (artefact.networkSha256 !== digest) {
    throw new QuantizationError(`${file} was calibrated on other weights (${artefact.weightsSource}, network sha256 ${artefact.networkSha256.slice(0, 12)}…, this model's ${digest.slice(0, 12)}…); run cityseg quantize with these weights`);
  }
}

export function activationTable(artefact: QuantizationArtefact): Map<string, ActivationQuantization> {
  return new Map(Object.entries(artefact.activations).map(([name, q]) => [name, { scale: q.scale, zeroPoint: q.zeroPoint }]));
}
