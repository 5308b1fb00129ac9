/**
 * The untrained default: torchvision's own initialisation scheme drawn from a seeded PRNG, so every process (and
 * every worker thread) builds the same weights without a file. Models built this way report `trained: false`.
 */
import { convsOf, expectedShapes, linearsOf, type NetworkSpec } from './network-spec.js';
import type { StateDict, WeightTensor } from './weights/state-dict.js';

export const DEFAULT_SEED = 20190506;

/** mulberry32: tiny, fast and good enough to draw initial weights (and test data) reproducibly; uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normalSampler(uniform: () => number): () => number {
  return () => {
    // Box-Muller; 1 - u keeps the log argument in (0, 1].
    const u = 1 - uniform();
    const v = uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

function filled(shape: number[], value: (i: number) => number): WeightTensor {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = value(i);
  return { shape, data };
}

/**
 * torchvision's MobileNetV3 init: convs kaiming_normal_(mode="fan_out"), biases zero, BatchNorm weight 1 bias 0
 * (running mean 0, var 1), Linear weights N(0, 0.01).
 */
export function seededStateDict(spec: NetworkSpec, seed = DEFAULT_SEED): StateDict {
  const normal = normalSampler(mulberry32(seed));
  const shapes = expectedShapes(spec);
  const dict: StateDict = new Map();
  const zeros = (name: string) => dict.set(name, filled(shapes.get(name)!, () => 0));
  const ones = (name: string) => dict.set(name, filled(shapes.get(name)!, () => 1));
  for (const conv of convsOf(spec)) {
    const shape = shapes.get(conv.weight)!;
    const fanOut = shape[0] * shape[2] * shape[3];
    const std = Math.sqrt(2 / fanOut);
    dict.set(conv.weight, filled(shape, () => normal() * std));
    if (conv.bias) zeros(conv.bias);
    if (conv.batchNorm) {
      const p = conv.batchNorm.prefix;
      ones(`${p}.weight`);
      zeros(`${p}.bias`);
      zeros(`${p}.running_mean`);
      ones(`${p}.running_var`);
    }
  }
  for (const linear of linearsOf(spec)) {
    dict.set(linear.weight, filled(shapes.get(linear.weight)!, () => normal() * 0.01));
    zeros(linear.bias);
  }
  return dict;
}
