/**
 * model/forward.ts's operations as TensorFlow.js ops on NHWC tensors, and the folded weights uploaded as the
 * tensors they need (HWIO filters, [in, out] matrices). Pads are explicit numbers, so stride-2 convs pad
 * symmetrically like torch; TF's asymmetric 'same' only where the spec says so (geffnet's Conv2dSame).
 */
import type { FoldedConv, FoldedLinear } from '../fold.js';
import type { NetworkOps } from '../forward.js';
import type { Activation, ConvSpec, LinearSpec } from '../network-spec.js';
import { tf } from './tfjs-runtime.js';

/** A convolution's spec with its weights as tfjs tensors, owned by the engine (see disposeTfWeights). */
export interface TfConv extends ConvSpec {
  /** HWIO [k, k, in, out], or [k, k, channels, 1] for depthwise. */
  filterTensor: tf.Tensor4D;
  biasTensor: tf.Tensor1D;
  depthwise: boolean;
}

export interface TfLinear extends LinearSpec {
  /** [in, out]: torch's weight transposed for x @ W. */
  matrixTensor: tf.Tensor2D;
  biasTensor: tf.Tensor1D;
}

/** torch [out, in/groups, k, k] → tfjs HWIO [k, k, in, out], or [k, k, channels, 1] for depthwise. */
export function toTfConv(folded: FoldedConv): TfConv {
  const { filter, biasValues, ...spec } = folded;
  const { outChannels: out, kernel: k, groups } = spec;
  const inPerGroup = spec.inChannels / groups;
  const depthwise = groups > 1;
  if (depthwise && (groups !== out || inPerGroup !== 1)) throw new Error(`${spec.weight}: only depthwise grouped convs are supported`);
  const filterTensor = tf.tidy(() => {
    const torchLayout = tf.tensor4d(filter, [out, inPerGroup, k, k]);
    // OIHW → HWIO; for depthwise O = channels and I = 1, giving [k, k, channels, 1] as tfjs wants.
    return tf.transpose(torchLayout, depthwise ? [2, 3, 0, 1] : [2, 3, 1, 0]) as tf.Tensor4D;
  });
  return { ...spec, filterTensor, biasTensor: tf.tensor1d(biasValues), depthwise };
}

export function toTfLinear(folded: FoldedLinear): TfLinear {
  const { matrix, biasValues, ...spec } = folded;
  const matrixTensor = tf.tidy(() => tf.transpose(tf.tensor2d(matrix, [spec.outFeatures, spec.inFeatures])) as tf.Tensor2D);
  return { ...spec, matrixTensor, biasTensor: tf.tensor1d(biasValues) };
}

/** Activations tfjs fuses into the conv or matMul kernel; the hard variants are applied after. */
const FUSED: Partial<Record<Activation, 'linear' | 'relu' | 'sigmoid'>> = { linear: 'linear', relu: 'relu', sigmoid: 'sigmoid' };

function hardSigmoid(x: tf.Tensor): tf.Tensor {
  // torch: relu6(x + 3) / 6
  return tf.div(tf.relu6(tf.add(x, 3)), 6);
}

/** The activation left to apply after a kernel that fused FUSED[activation]. */
function activateUnfused(x: tf.Tensor, activation: Activation): tf.Tensor {
  if (FUSED[activation]) return x;
  if (activation === 'hardsigmoid') return hardSigmoid(x);
  // hard-swish: x * relu6(x + 3) / 6
  return tf.mul(x, hardSigmoid(x));
}

/** Every op allocates new tensors: run the forward pass inside tf.tidy so the intermediates are freed. */
export const TFJS_OPS: NetworkOps<tf.Tensor, TfConv, TfLinear> = {
  conv(x, c) {
    const args = {
      x: x as tf.Tensor4D,
      filter: c.filterTensor,
      strides: c.stride,
      pad: c.samePadding ? ('same' as const) : c.padding,
      dilations: c.dilation,
      bias: c.biasTensor,
      activation: FUSED[c.activation] ?? 'linear',
    };
    return activateUnfused(c.depthwise ? tf.fused.depthwiseConv2d(args) : tf.fused.conv2d(args), c.activation);
  },
  linear(x, l) {
    const y = tf.fused.matMul({ a: x as tf.Tensor2D, b: l.matrixTensor, bias: l.biasTensor, activation: FUSED[l.activation] ?? 'linear' });
    return activateUnfused(y, l.activation);
  },
  add: (a, b) => tf.add(a, b),
  multiply: (a, b) => tf.mul(a, b),
  // NHWC: mean over H and W, kept as [N, 1, 1, C] so it broadcasts as a gate.
  globalAveragePool: (x) => tf.mean(x, [1, 2], true),
  flatten: (x) => tf.reshape(x, [x.shape[0], -1]),
  // align_corners=False in torch is TF's half-pixel-centres resize.
  // align_corners=True is TF's alignCorners (then without half-pixel centres).
  resizeBilinear: (x, like, _scope, alignCorners = false) => {
    const [, height, width] = (like as tf.Tensor4D).shape;
    return tf.image.resizeBilinear(x as tf.Tensor4D, [height, width], alignCorners, !alignCorners);
  },
  averagePool: (x, kernel, stride) => tf.avgPool(x as tf.Tensor4D, [kernel[0], kernel[1]], [stride[0], stride[1]], 'valid'),
  // NHWC: channels are the last axis.
  concatChannels: (a, b) => tf.concat([a, b], 3),
};

/** Frees the weight tensors toTfConv and toTfLinear allocated. */
export function disposeTfWeights(convs: TfConv[], linears: TfLinear[]): void {
  for (const c of convs) tf.dispose([c.filterTensor, c.biasTensor]);
  for (const l of linears) tf.dispose([l.matrixTensor, l.biasTensor]);
}
