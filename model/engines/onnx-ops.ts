/**
 * model/forward.ts's operations as ONNX nodes: each op appends NCHW nodes (named `<torch module>/<op>`) and folded
 * weights as initializers to an OnnxGraphBuilder, and returns the name of its output.
 */
import type { onnx as OnnxSchema } from 'onnx-proto';
import type { FoldedConv, FoldedLinear } from '../fold.js';
import { moduleOf, type NetworkOps } from '../forward.js';
import type { Activation } from '../network-spec.js';
import { attr, type OnnxGraphBuilder } from './onnx-builder.js';

/**
 * ONNX op (and attributes) for each activation; hard-sigmoid is torch's relu6(x + 3) / 6 = clip(x/6 + 0.5).
 * ORT's CPU EP fuses Relu, Sigmoid and HardSigmoid into the preceding Conv; HardSwish it inlines as
 * x * HardSigmoid(x), unfused and outside its NCHWc layout, so each costs a reorder out and back (~25% of the
 * run at 512x1024). Computing the gate with a twin Conv + fused HardSigmoid measured no faster.
 */
export const ACTIVATION_OPS: Readonly<Record<Activation, { op: string; attributes?: OnnxSchema.IAttributeProto[] } | undefined>> = {
  linear: undefined,
  relu: { op: 'Relu' },
  sigmoid: { op: 'Sigmoid' },
  hardswish: { op: 'HardSwish' },
  hardsigmoid: { op: 'HardSigmoid', attributes: [attr.float('alpha', 1 / 6), attr.float('beta', 0.5)] },
};

/**
 * The ONNX Conv attributes of a torch Conv2d (square kernel, stride, dilation and padding); TensorFlow's 'same' is
 * SAME_UPPER, whose pads ONNX Runtime computes from each input's size with the odd one at the end, as geffnet's
 * Conv2dSame does.
 */
export function convAttributes(c: FoldedConv) {
  const { groups, kernel: k, stride: s, dilation: d, padding: p } = c;
  return [
    attr.ints('kernel_shape', [k, k]),
    attr.ints('strides', [s, s]),
    attr.ints('dilations', [d, d]),
    // torch pads symmetrically: [top, left, bottom, right].
    c.samePadding ? attr.string('auto_pad', 'SAME_UPPER') : attr.ints('pads', [p, p, p, p]),
    attr.int('group', groups),
  ];
}

export class OnnxOps implements NetworkOps<string, FoldedConv, FoldedLinear> {
  private readonly b: OnnxGraphBuilder;
  constructor(b: OnnxGraphBuilder) {
    this.b = b;
  }

  private activate(x: string, activation: Activation, scope: string): string {
    const act = ACTIVATION_OPS[activation];
    return act ? this.b.node(act.op, [x], scope, { attributes: act.attributes }) : x;
  }

  conv(x: string, c: FoldedConv): string {
    const scope = moduleOf(c.weight);
    const { outChannels: out, inChannels, groups, kernel: k } = c;
    const weight = this.b.initializer(c.weight, [out, inChannels / groups, k, k], c.filter);
    // With BatchNorm folded in, every conv has a bias even where torch's has none.
    const bias = this.b.initializer(`${scope}.bias`, [out], c.biasValues);
    const y = this.b.node('Conv', [x, weight, bias], scope, {
      attributes: convAttributes(c),
    });
    return this.activate(y, c.activation, scope);
  }

  linear(x: string, l: FoldedLinear): string {
    const scope = moduleOf(l.weight);
    const weight = this.b.initializer(l.weight, [l.outFeatures, l.inFeatures], l.matrix);
    const bias = this.b.initializer(l.bias, [l.outFeatures], l.biasValues);
    // transB: torch stores Linear weights [out, in] and computes x @ W^T.
    const y = this.b.node('Gemm', [x, weight, bias], scope, { attributes: [attr.int('transB', 1)] });
    return this.activate(y, l.activation, scope);
  }

  add(a: string, b: string, scope: string): string {
    return this.b.node('Add', [a, b], scope);
  }

  multiply(a: string, b: string, scope: string): string {
    return this.b.node('Mul', [a, b], scope);
  }

  globalAveragePool(x: string, scope: string): string {
    return this.b.node('GlobalAveragePool', [x], scope);
  }

  flatten(x: string, scope: string): string {
    return this.b.node('Flatten', [x], scope, { attributes: [attr.int('axis', 1)] });
  }

  /**
   * The sizes come from Shape at run time, so any input size works. pytorch_half_pixel is what torch.onnx emits
   * for align_corners=False (it differs from torch only for an output of length 1).
   */
  resizeBilinear(x: string, like: string, scope: string, alignCorners = false): string {
    const batchAndChannels = this.b.node('Shape', [x], scope, { attributes: [attr.int('end', 2)] });
    const heightAndWidth = this.b.node('Shape', [like], scope, { attributes: [attr.int('start', 2)] });
    const sizes = this.b.node('Concat', [batchAndChannels, heightAndWidth], scope, { attributes: [attr.int('axis', 0)] });
    // Empty names skip the optional roi and scales inputs.
    return this.b.node('Resize', [x, '', '', sizes], scope, {
      attributes: [attr.string('mode', 'linear'), attr.string('coordinate_transformation_mode', alignCorners ? 'align_corners' : 'pytorch_half_pixel')],
    });
  }

  averagePool(x: string, kernel: readonly [number, number], stride: readonly [number, number], scope: string): string {
    return this.b.node('AveragePool', [x], scope, { attributes: [attr.ints('kernel_shape', [...kernel]), attr.ints('strides', [...stride])] });
  }

  concatChannels(a: string, b: string, scope: string): string {
    return this.b.node('Concat', [a, b], scope, { attributes: [attr.int('axis', 1)] });
  }
}
