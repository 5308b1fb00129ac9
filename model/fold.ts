/**
 * Turns a validated state_dict into inference weights: every BatchNorm folded into the convolution before it
 * (w' = w * gamma / sqrt(var + eps), b' = beta + (b - mean) * gamma / sqrt(var + eps)), so engines run one fused
 * conv + bias + activation per layer.
 */
import { mapNetwork, type ConvSpec, type LinearSpec, type NetworkSpec } from './network-spec.js';
import type { StateDict } from './weights/state-dict.js';

/** A convolution ready to run: weight in torch layout [out, in/groups, k, k], bias per output channel. */
export interface FoldedConv extends ConvSpec {
  filter: Float32Array;
  biasValues: Float32Array;
}

/** A Linear ready to run: weight [out, in] as torch stores it. */
export interface FoldedLinear extends LinearSpec {
  matrix: Float32Array;
  biasValues: Float32Array;
}

export type FoldedNetwork = NetworkSpec<FoldedConv, FoldedLinear>;

function tensor(dict: StateDict, name: string): Float32Array {
  const t = dict.get(name);
  if (!t) throw new Error(`state_dict has no tensor ${name}`);
  return t.data;
}

function foldConv(conv: ConvSpec, dict: StateDict): FoldedConv {
  const weight = tensor(dict, conv.weight);
  const ownBias = conv.bias ? tensor(dict, conv.bias) : undefined;
  const out = conv.outChannels;
  const filter = new Float32Array(weight.length);
  const biasValues = new Float32Array(out);
  const perOutput = weight.length / out;
  if (!conv.batchNorm) {
    filter.set(weight);
    if (ownBias) biasValues.set(ownBias);
    return { ...conv, filter, biasValues };
  }
  const p = conv.batchNorm.prefix;
  const gamma = tensor(dict, `${p}.weight`);
  const beta = tensor(dict, `${p}.bias`);
  const mean = tensor(dict, `${p}.running_mean`);
  const variance = tensor(dict, `${p}.running_var`);
  for (let o = 0; o < out; o++) {
    // Computed in float64, rounded once.
    const scale = gamma[o] / Math.sqrt(variance[o] + conv.batchNorm.eps);
    for (let i = o * perOutput; i < (o + 1) * perOutput; i++) filter[i] = weight[i] * scale;
    biasValues[o] = beta[o] + ((ownBias ? ownBias[o] : 0) - mean[o]) * scale;
  }
  return { ...conv, filter, biasValues };
}

function foldLinear(linear: LinearSpec, dict: StateDict): FoldedLinear {
  return { ...linear, matrix: tensor(dict, linear.weight), biasValues: tensor(dict, linear.bias) };
}

export function foldNetwork(spec: NetworkSpec, dict: StateDict): FoldedNetwork {
  return mapNetwork(spec, (c) => foldConv(c, dict), (l) => foldLinear(l, dict));
}
