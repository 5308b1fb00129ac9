/**
 * Test networks for the ONNX tests: torchvision's seeded init with randomised BatchNorm (so folding matters),
 * heads calibrated so logits are O(1) with varied argmax, and seeded inputs; plus comparison helpers.
 */
import type { onnx as OnnxSchema } from 'onnx-proto';
import type { Float32Tensor } from '../model/engines/engine.js';
import { onnx } from '../model/engines/onnx-builder.js';
import { foldNetwork, type FoldedNetwork } from '../model/fold.js';
import type { ArchName } from '../model/loaded-model.js';
import { convsOf, networkSpec } from '../model/network-spec.js';
import { mulberry32, seededStateDict } from '../model/seeded-init.js';

/** A seeded PRNG for reproducible test data (the one the untrained init draws from). */
export const seededUniform = mulberry32;

/** The same ranges as scripts/make_fixtures.py's randomise_batchnorm (uniform instead of normal draws). */
const BN_RANGES: Record<string, [number, number]> = {
  running_mean: [-0.15, 0.15],
  running_var: [0.5, 2.0],
  weight: [0.5, 1.5],
  bias: [-0.15, 0.15],
};

export function randomisedNetwork(arch: ArchName, numClasses: number, seed: number): FoldedNetwork {
  const spec = networkSpec(arch, { numClasses });
  const dict = seededStateDict(spec, seed);
  const uniform = seededUniform(seed + 1);
  for (const conv of convsOf(spec)) {
    if (!conv.batchNorm) continue;
    for (const [field, [lo, hi]] of Object.entries(BN_RANGES)) {
      const values = dict.get(`${conv.batchNorm.prefix}.${field}`)!.data;
      for (let i = 0; i < values.length; i++) values[i] = lo + (hi - lo) * uniform();
    }
  }
  return foldNetwork(spec, dict);
}

export function seededInput(shape: number[], seed: number): Float32Tensor {
  const uniform = seededUniform(seed);
  // Roughly the range of ImageNet-normalised pixels.
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1)).map(() => 4 * uniform() - 2);
  return { data, shape };
}

/** The final layers of the head, whose outputs sum (segmentation) or are (classification) the logits. */
function finalLayers(net: FoldedNetwork): { weights: Float32Array; bias: Float32Array }[] {
  const head = net.head;
  if (head.kind === 'classifier') return [{ weights: head.fc2.matrix, bias: head.fc2.biasValues }];
  if (head.kind === 'fastseg') return [{ weights: head.last.filter, bias: head.last.biasValues }];
  return [head.lowClassifier, head.highClassifier].map((c) => ({ weights: c.filter, bias: c.biasValues }));
}

/**
 * Rescales the head in place, from logits `reference` (channels last) of this network, so logits become
 * (logits - classMean) * targetStd / std: untrained classifiers otherwise give ~5e-3 logits, against which an
 * absolute tolerance says nothing, and a per-class constant that makes every pixel's argmax the same.
 * Classifier logits are only scaled, as make_fixtures.py does: pooled features barely change between images.
 */
export function calibrateHead(net: FoldedNetwork, reference: Float32Tensor, targetStd: number): void {
  const classes = reference.shape[reference.shape.length - 1];
  const rows = reference.data.length / classes;
  const mean = new Float64Array(classes);
  reference.data.forEach((v, i) => (mean[i % classes] += v / rows));
  const centre = net.task === 'segmentation';
  let sumSquares = 0;
  reference.data.forEach((v, i) => (sumSquares += (v - (centre ? mean[i % classes] : 0)) ** 2));
  const factor = targetStd / Math.sqrt(sumSquares / reference.data.length);
  const layers = finalLayers(net);
  // Both branches are linear and summed: shifting one bias by the class mean centres the sum.
  if (centre) layers[0].bias.forEach((b, c) => (layers[0].bias[c] = b - mean[c]));
  for (const { weights, bias } of layers) {
    weights.forEach((w, i) => (weights[i] = w * factor));
    bias.forEach((b, i) => (bias[i] = b * factor));
  }
}

export function maxAbs(a: Float32Array): number {
  return a.reduce((max, v) => Math.max(max, Math.abs(v)), 0);
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** Index of the largest value along `axis` for every position of the other axes, in row-major order. */
export function argmaxAlong(t: Float32Tensor, axis: number): Int32Array {
  const classes = t.shape[axis];
  const inner = t.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = t.data.length / (classes * inner);
  const result = new Int32Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let best = 0;
      for (let c = 1; c < classes; c++) {
        if (t.data[(o * classes + c) * inner + i] > t.data[(o * classes + best) * inner + i]) best = c;
      }
      result[o * inner + i] = best;
    }
  }
  return result;
}

export function agreement(a: Int32Array, b: Int32Array): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}

export function distinctCount(values: Int32Array): number {
  return new Set(values).size;
}

/** [N, H, W, C] → [N, C, H, W], for feeding torchvision-layout models. */
export function nhwcToNchw(t: Float32Tensor): Float32Tensor {
  const [n, h, w, c] = t.shape;
  const data = new Float32Array(t.data.length);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let k = 0; k < c; k++) data[((b * c + k) * h + y) * w + x] = t.data[((b * h + y) * w + x) * c + k];
      }
    }
  }
  return { data, shape: [n, c, h, w] };
}

/** A serialised ModelProto as plain data, int64 fields as numbers. */
export function decodeModel(bytes: Uint8Array): OnnxSchema.IModelProto {
  return onnx.ModelProto.toObject(onnx.ModelProto.decode(bytes), { longs: Number, defaults: true }) as OnnxSchema.IModelProto;
}
