/**
 * The forward pass's ops for int8 inference in ONNX's QDQ form, and the recorder that finds where its activations
 * are quantised (for calibration). A quantised convolution is DequantizeLinear(QuantizeLinear(x)) → Conv with
 * per-output-channel symmetric int8 weights and int32 bias (each behind a DequantizeLinear) → [Relu] →
 * QuantizeLinear → DequantizeLinear; ONNX Runtime's optimiser fuses each such group into one QLinearConv (and a
 * residual Add between quantised tensors into QLinearAdd), as its quantisation tool's QDQ models are fused.
 * Layers whose outputs are 1x1 or are the logits stay fp32 (see `staysFloat`).
 */
import type { FoldedConv, FoldedLinear } from '../fold.js';
import { moduleOf, type NetworkOps } from '../forward.js';
import { attr, onnx, type OnnxGraphBuilder } from '../engines/onnx-builder.js';
import { ACTIVATION_OPS, convAttributes, OnnxOps } from '../engines/onnx-ops.js';
import { QuantizationError } from './errors.js';

const { DataType } = onnx.TensorProto;

/** uint8 asymmetric quantisation of one activation tensor: real = (q - zeroPoint) * scale. */
export interface ActivationQuantization {
  scale: number;
  zeroPoint: number;
}

/**
 * fp32 layers: the squeeze-excite and LR-ASPP gate convs run on 1x1 (fastseg: pooled) maps (no time to win, and
 * they scale whole feature maps), and the classifier convs produce the logits, whose argmax int8 rounding would move.
 */
export function staysFloat(conv: FoldedConv): boolean {
  return /\.fc[12]\.weight$|\.se\.conv_(reduce|expand)\.weight$|^classifier\.(scale|low_classifier|high_classifier)\.|^(aspp_conv2\.1|last)\./.test(conv.weight);
}

/** Where activations are quantised: `record` collects the tensor names (calibration), `quantize` emits Q/DQ. */
export type QuantizationPoints =
  | { mode: 'record' }
  | { mode: 'quantize'; activations: ReadonlyMap<string, ActivationQuantization> };

/** Per output channel of a [out, …] weight: max |w| / 127 (symmetric int8, zero point 0); 1 for an all-zero channel. */
export function channelScales(filter: Float32Array, outChannels: number): Float32Array {
  const perChannel = filter.length / outChannels;
  const scales = new Float32Array(outChannels);
  for (let o = 0; o < outChannels; o++) {
    let max = 0;
    for (let i = o * perChannel; i < (o + 1) * perChannel; i++) max = Math.max(max, Math.abs(filter[i]));
    scales[o] = max > 0 ? max / 127 : 1;
  }
  return scales;
}

function bytes(view: ArrayBufferView): Uint8Array {
  // Our hosts are little-endian (x86-64, arm64), as ONNX raw_data is.
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

export class QdqOps implements NetworkOps<string, FoldedConv, FoldedLinear> {
  private readonly b: OnnxGraphBuilder;
  private readonly fp32: OnnxOps;
  private readonly points: QuantizationPoints;
  /** Tensor → the name its later consumers read (its DequantizeLinear output once it has a quantisation point). */
  private readonly readAs = new Map<string, string>();
  private readonly recorded: string[] = [];
  /** DequantizeLinear output → the tensor it quantises. */
  private readonly sourceOf = new Map<string, string>();

  constructor(b: OnnxGraphBuilder, points: QuantizationPoints) {
    this.b = b;
    this.fp32 = new OnnxOps(b);
    this.points = points;
  }

  /** Calibration: every quantised tensor's name, in graph order. */
  extraOutputs(): string[] {
    return this.points.mode === 'record' ? [...this.recorded] : [];
  }

  private read(x: string): string {
    return this.readAs.get(x) ?? x;
  }

  /** Puts a quantisation point on `x` (once); every consumer from now on reads the dequantised tensor. */
  private point(x: string): string {
    const known = this.readAs.get(x);
    if (known) return known;
    let out = x;
    if (this.points.mode === 'record') this.recorded.push(x);
    else {
      const q = this.points.activations.get(x);
      if (!q) throw new QuantizationError(`the quantisation has no range for tensor ${x}: it was calibrated for another graph; run cityseg quantize again`);
      const scale = this.b.initializer(`${x}.scale`, [], Float32Array.of(q.scale));
      const zeroPoint = this.b.typedInitializer(`${x}.zero_point`, [], DataType.UINT8, Uint8Array.of(q.zeroPoint));
      const quantized = this.b.node('QuantizeLinear', [x, scale, zeroPoint], x);
      out = this.b.node('DequantizeLinear', [quantized, scale, zeroPoint], x);
    }
    this.readAs.set(x, out);
    this.readAs.set(out, out);
    this.sourceOf.set(out, x);
    return out;
  }

  private activationScale(x: string): number {
    if (this.points.mode === 'record') return 1;
    const q = this.points.activations.get(this.sourceOf.get(x) ?? x);
    if (!q) throw new QuantizationError(`the quantisation has no range for tensor ${x}: it was calibrated for another graph; run cityseg quantize again`);
    return q.scale;
  }

  conv(x: string, c: FoldedConv): string {
    if (staysFloat(c)) return this.fp32.conv(this.read(x), c);
    const scope = moduleOf(c.weight);
    const input = this.point(x);
    const { outChannels: out, inChannels, groups, kernel: k } = c;
    let weight: string;
    let bias: string;
    if (this.points.mode === 'record') {
      weight = this.b.initializer(c.weight, [out, inChannels / groups, k, k], c.filter);
      bias = this.b.initializer(`${scope}.bias`, [out], c.biasValues);
    } else {
      const scales = channelScales(c.filter, out);
      const perChannel = c.filter.length / out;
      const q = new Int8Array(c.filter.length);
      c.filter.forEach((w, i) => (q[i] = Math.max(-127, Math.min(127, Math.round(w / scales[Math.floor(i / perChannel)])))));
      const axis0 = { attributes: [attr.int('axis', 0)] };
      const wScale = this.b.initializer(`${c.weight}.scale`, [out], scales);
      const wZero = this.b.typedInitializer(`${c.weight}.zero_point`, [out], DataType.INT8, new Uint8Array(out));
      const wInt8 = this.b.typedInitializer(`${c.weight}.int8`, [out, inChannels / groups, k, k], DataType.INT8, bytes(q));
      weight = this.b.node('DequantizeLinear', [wInt8, wScale, wZero], c.weight, axis0);
      // int32 bias on the accumulator's scale, input scale x weight scale, as QLinearConv takes it.
      const xScale = this.activationScale(x);
      const bScale = scales.map((sw) => sw * xScale);
      const bInt32 = Int32Array.from(c.biasValues, (v, o) => Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round(v / bScale[o]))));
      const bScaleName = this.b.initializer(`${scope}.bias.scale`, [out], bScale);
      const bName = this.b.typedInitializer(`${scope}.bias.int32`, [out], DataType.INT32, bytes(bInt32));
      bias = this.b.node('DequantizeLinear', [bName, bScaleName], `${scope}.bias`, axis0);
    }
    let y = this.b.node('Conv', [input, weight, bias], scope, {
      attributes: convAttributes(c),
    });
    // ReLU goes before the point (the range then starts at 0 and ORT drops it); other activations run in fp32 after.
    if (c.activation === 'relu') y = this.b.node('Relu', [y], scope);
    y = this.point(y);
    const act = c.activation === 'relu' ? undefined : ACTIVATION_OPS[c.activation];
    return act ? this.b.node(act.op, [y], scope, { attributes: act.attributes }) : y;
  }

  linear(x: string, l: FoldedLinear): string {
    return this.fp32.linear(this.read(x), l);
  }

  add(a: string, b: string, scope: string): string {
    return this.fp32.add(this.read(a), this.read(b), scope);
  }

  multiply(a: string, b: string, scope: string): string {
    return this.fp32.multiply(this.read(a), this.read(b), scope);
  }

  globalAveragePool(x: string, scope: string): string {
    return this.fp32.globalAveragePool(this.read(x), scope);
  }

  flatten(x: string, scope: string): string {
    return this.fp32.flatten(this.read(x), scope);
  }

  resizeBilinear(x: string, like: string, scope: string, alignCorners?: boolean): string {
    return this.fp32.resizeBilinear(this.read(x), this.read(like), scope, alignCorners);
  }

  averagePool(x: string, kernel: readonly [number, number], stride: readonly [number, number], scope: string): string {
    return this.fp32.averagePool(this.read(x), kernel, stride, scope);
  }

  concatChannels(a: string, b: string, scope: string): string {
    return this.fp32.concatChannels(this.read(a), this.read(b), scope);
  }
}

/** The `opsFor` of an int8 graph with these activation parameters (OnnxModelOptions, OnnxEngineOptions). */
export function int8Ops(activations: ReadonlyMap<string, ActivationQuantization>): (b: OnnxGraphBuilder) => QdqOps {
  return (b) => new QdqOps(b, { mode: 'quantize', activations });
}
