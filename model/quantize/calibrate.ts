/**
 * Calibration: the fp32 network with every tensor the int8 graph quantises exposed as an extra output, run over
 * images, keeping each tensor's observed range.
 */
import { sessionOptions } from '../engines/onnx-engine.js';
import * as ort from 'onnxruntime-node';
import type { Float32Tensor } from '../engines/engine.js';
import { buildOnnxModel, INPUT_NAME } from '../engines/onnx-graph.js';
import type { FoldedNetwork } from '../fold.js';
import type { ActivationRange } from './artefact.js';
import { QdqOps } from './qdq-ops.js';

/** The calibration graph (engine layout) and the names of the tensors to observe. */
export function calibrationModel(net: FoldedNetwork): { model: Uint8Array; tensors: string[] } {
  let ops: QdqOps | undefined;
  const model = buildOnnxModel(net, { layout: 'engine', opsFor: (b) => (ops = new QdqOps(b, { mode: 'record' })) });
  return { model, tensors: ops!.extraOutputs() };
}

/**
 * Ranges over every observed image. `minmax` keeps the extremes; `percentile` (0 < p < 100) keeps, per image,
 * the p-th percentile of the values below and above zero separately and averages those over images, clipping rare
 * outliers that would otherwise stretch the uint8 grid.
 */
export class Calibrator {
  private readonly session: ort.InferenceSession;
  readonly tensors: string[];
  private readonly ranges = new Map<string, ActivationRange>();
  private readonly percentile: number | undefined;
  private images = 0;

  private constructor(session: ort.InferenceSession, tensors: string[], percentile: number | undefined) {
    this.session = session;
    this.tensors = tensors;
    this.percentile = percentile;
  }

  static async create(net: FoldedNetwork, options: { percentile?: number; threads?: number } = {}): Promise<Calibrator> {
    const { model, tensors } = calibrationModel(net);
    const session = await ort.InferenceSession.create(model, sessionOptions({ intraOpThreads: options.threads }));
    return new Calibrator(session, tensors, options.percentile);
  }

  get observed(): number {
    return this.images;
  }

  /** Runs one image (NHWC float32, normalised) and widens or averages every tensor's range. */
  async observe(input: Float32Tensor): Promise<void> {
    const feed = new ort.Tensor('float32', input.data, input.shape);
    // All outputs: onnxruntime-node 1.22 mislabels results when given a fetch list that omits the first output.
    const results = await this.session.run({ [INPUT_NAME]: feed });
    try {
      for (const name of this.tensors) {
        const range = this.rangeOf(results[name].data as Float32Array);
        const prev = this.ranges.get(name);
        if (!prev) this.ranges.set(name, range);
        else if (this.percentile === undefined) this.ranges.set(name, { min: Math.min(prev.min, range.min), max: Math.max(prev.max, range.max) });
        else this.ranges.set(name, { min: prev.min + (range.min - prev.min) / (this.images + 1), max: prev.max + (range.max - prev.max) / (this.images + 1) });
      }
      this.images++;
    } finally {
      feed.dispose();
      for (const t of Object.values(results)) t.dispose();
    }
  }

  private rangeOf(data: Float32Array): ActivationRange {
    if (this.percentile === undefined) {
      let min = Infinity;
      let max = -Infinity;
      for (let i = 0; i < data.length; i++) {
        const v = data[i];
        if (v < min) min = v;
        if (v > max) max = v;
      }
      return { min, max };
    }
    const sorted = Float32Array.from(data).sort();
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))];
    const p = this.percentile / 100;
    return { min: Math.min(0, at(1 - p)), max: Math.max(0, at(p)) };
  }

  result(): Map<string, ActivationRange> {
    return new Map(this.ranges);
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
