/**
 * Emits a FoldedNetwork as an ONNX model, in torchvision's module order (as model/engines/tfjs-engine.ts does).
 * The graph is NCHW inside, with torch's OIHW weights stored as they are; 'engine' layout wraps it in the
 * NHWC interface of InferenceEngine, 'torchvision' layout is torchvision's own interface for other runtimes.
 */
import type { onnx as OnnxSchema } from 'onnx-proto';
import type { FoldedConv, FoldedLinear, FoldedNetwork } from '../fold.js';
import type { Activation, BackboneSpec, BlockSpec, LrasppHeadSpec } from '../network-spec.js';
import { attr, floatValueInfo, onnx, OnnxGraphBuilder, type Dim } from './onnx-builder.js';
import { OnnxGraphError } from './onnx-errors.js';

export type OnnxLayout = 'engine' | 'torchvision';

export interface OnnxModelOptions {
  layout: OnnxLayout;
  opset?: number;
  /** Where the weights came from (file, URL or `seeded-init:<seed>`), recorded in metadata_props. */
  weightsSource?: string;
  weightsSha256?: string | null;
}

export const DEFAULT_OPSET = 17;

/**
 * IR version each supported opset was released with. The floor is 15: HardSwish needs 14, Shape's start/end
 * (used to build Resize's target size) needs 15.
 */
const IR_VERSION_BY_OPSET: Readonly<Record<number, number>> = { 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10, 22: 10 };

export const INPUT_NAME = 'input';
/** Output name per layout: torchvision's segmentation models return `{'out': ...}`. */
export const OUTPUT_NAMES: Readonly<Record<OnnxLayout, string>> = { engine: 'logits', torchvision: 'out' };

const NHWC_TO_NCHW = [0, 3, 1, 2];
const NCHW_TO_NHWC = [0, 2, 3, 1];

/**
 * ONNX op (and attributes) for each activation; hard-sigmoid is torch's relu6(x + 3) / 6 = clip(x/6 + 0.5).
 * ORT's CPU EP fuses Relu, Sigmoid and HardSigmoid into the preceding Conv; HardSwish it inlines as
 * x * HardSigmoid(x), unfused and outside its NCHWc layout, so each costs a reorder out and back (~25% of the
 * run at 512x1024). Computing the gate with a twin Conv + fused HardSigmoid measured no faster.
 */
const ACTIVATION_OPS: Readonly<Record<Activation, { op: string; attributes?: OnnxSchema.IAttributeProto[] } | undefined>> = {
  linear: undefined,
  relu: { op: 'Relu' },
  sigmoid: { op: 'Sigmoid' },
  hardswish: { op: 'HardSwish' },
  hardsigmoid: { op: 'HardSigmoid', attributes: [attr.float('alpha', 1 / 6), attr.float('beta', 0.5)] },
};

/** The scope of a layer is its torch module path: `backbone.1.block.0.0.weight` → `backbone.1.block.0.0`. */
function scopeOf(weightName: string): string {
  return weightName.replace(/\.weight$/, '');
}

class NetworkEmitter {
  private readonly b: OnnxGraphBuilder;
  constructor(b: OnnxGraphBuilder) {
    this.b = b;
  }

  activate(x: string, activation: Activation, scope: string): string {
    const act = ACTIVATION_OPS[activation];
    return act ? this.b.node(act.op, [x], scope, { attributes: act.attributes }) : x;
  }

  conv(x: string, c: FoldedConv): string {
    const scope = scopeOf(c.weight);
    const { outChannels: out, inChannels, groups, kernel: k, stride: s, dilation: d, padding: p } = c;
    const weight = this.b.initializer(c.weight, [out, inChannels / groups, k, k], c.filter);
    // With BatchNorm folded in, every conv has a bias even where torch's has none.
    const bias = this.b.initializer(`${scope}.bias`, [out], c.biasValues);
    const y = this.b.node('Conv', [x, weight, bias], scope, {
      attributes: [
        attr.ints('kernel_shape', [k, k]),
        attr.ints('strides', [s, s]),
        attr.ints('dilations', [d, d]),
        // torch pads symmetrically: [top, left, bottom, right].
        attr.ints('pads', [p, p, p, p]),
        attr.int('group', groups),
      ],
    });
    return this.activate(y, c.activation, scope);
  }

  linear(x: string, l: FoldedLinear): string {
    const scope = scopeOf(l.weight);
    const weight = this.b.initializer(l.weight, [l.outFeatures, l.inFeatures], l.matrix);
    const bias = this.b.initializer(l.bias, [l.outFeatures], l.biasValues);
    // transB: torch stores Linear weights [out, in] and computes x @ W^T.
    const y = this.b.node('Gemm', [x, weight, bias], scope, { attributes: [attr.int('transB', 1)] });
    return this.activate(y, l.activation, scope);
  }

  globalAveragePool(x: string, scope: string): string {
    return this.b.node('GlobalAveragePool', [x], scope);
  }

  block(x: string, block: BlockSpec<FoldedConv>): string {
    const scope = scopeOf(block.project.weight).replace(/\.block\.\d+\.0$/, '');
    let y = block.expand ? this.conv(x, block.expand) : x;
    y = this.conv(y, block.depthwise);
    if (block.se) {
      const seScope = scopeOf(block.se.fc1.weight).replace(/\.fc1$/, '');
      const scale = this.conv(this.conv(this.globalAveragePool(y, seScope), block.se.fc1), block.se.fc2);
      y = this.b.node('Mul', [y, scale], seScope);
    }
    y = this.conv(y, block.project);
    return block.residual ? this.b.node('Add', [y, x], scope) : y;
  }

  /** Every feature map (0 = stem, 1..n = blocks, n+1 = last conv), so heads can pick theirs. */
  backbone(x: string, backbone: BackboneSpec<FoldedConv>): string[] {
    const features = [this.conv(x, backbone.stem)];
    for (const block of backbone.blocks) features.push(this.block(features[features.length - 1], block));
    features.push(this.conv(features[features.length - 1], backbone.lastConv));
    return features;
  }

  /**
   * Bilinear resize of NCHW `x` to the height and width `like` has at run time, as torch's
   * F.interpolate(mode='bilinear', align_corners=False); the sizes come from Shape so any input size works.
   * pytorch_half_pixel is what torch.onnx emits for it (it differs from torch only for an output of length 1).
   */
  resizeLike(x: string, like: string, scope: string): string {
    const batchAndChannels = this.b.node('Shape', [x], scope, { attributes: [attr.int('end', 2)] });
    const heightAndWidth = this.b.node('Shape', [like], scope, { attributes: [attr.int('start', 2)] });
    const sizes = this.b.node('Concat', [batchAndChannels, heightAndWidth], scope, { attributes: [attr.int('axis', 0)] });
    // Empty names skip the optional roi and scales inputs.
    return this.b.node('Resize', [x, '', '', sizes], scope, {
      attributes: [attr.string('mode', 'linear'), attr.string('coordinate_transformation_mode', 'pytorch_half_pixel')],
    });
  }

  lrasppHead(features: string[], head: LrasppHeadSpec<FoldedConv>): string {
    const low = features[head.lowFeature];
    const high = features[features.length - 1];
    const gate = this.conv(this.globalAveragePool(high, 'classifier.scale'), head.scale);
    const gated = this.b.node('Mul', [this.conv(high, head.cbr), gate], 'classifier');
    const upsampled = this.resizeLike(gated, low, 'classifier');
    return this.b.node('Add', [this.conv(low, head.lowClassifier), this.conv(upsampled, head.highClassifier)], 'classifier');
  }

  classifierHead(high: string, fc1: FoldedLinear, fc2: FoldedLinear): string {
    const pooled = this.b.node('Flatten', [this.globalAveragePool(high, 'avgpool')], 'avgpool', { attributes: [attr.int('axis', 1)] });
    // classifier.2 is Dropout: identity at inference.
    return this.linear(this.linear(pooled, fc1), fc2);
  }
}

/** Graph inputs and outputs of one layout; the internal graph between them is always NCHW. */
function layoutShapes(net: FoldedNetwork, layout: OnnxLayout): { input: Dim[]; output: Dim[] } {
  const c = net.numClasses;
  if (layout === 'engine') {
    const output = net.task === 'segmentation' ? ['batch', 'logits_height', 'logits_width', c] : ['batch', c];
    return { input: ['batch', 'height', 'width', 3], output };
  }
  return { input: ['batch', 3, 'height', 'width'], output: net.task === 'segmentation' ? ['batch', c, 'height', 'width'] : ['batch', c] };
}

function describe(net: FoldedNetwork, layout: OnnxLayout): string {
  const what = `${net.arch} (${net.task}, ${net.numClasses} classes), BatchNorm folded into the convolutions, exported by cityseg.`;
  const io = layout === 'engine'
    ? 'Input `input` NHWC [N,H,W,3] float32 (RGB, ImageNet-normalised); output `logits` NHWC at 1/8 resolution before the final upsample, or [N,C].'
    : 'Input `input` NCHW [N,3,H,W] float32 (RGB, ImageNet-normalised); output `out` [N,C,H,W] at the input size, or [N,C], as torchvision.';
  return `${what} ${io}`;
}

function metadata(net: FoldedNetwork, opts: OnnxModelOptions): { key: string; value: string }[] {
  const entries: [string, string | null | undefined][] = [
    ['arch', net.arch],
    ['task', net.task],
    ['num_classes', String(net.numClasses)],
    ['layout', opts.layout],
    ['weights_source', opts.weightsSource],
    ['weights_sha256', opts.weightsSha256],
  ];
  return entries.filter((e): e is [string, string] => typeof e[1] === 'string').map(([key, value]) => ({ key, value }));
}

/** The network as a serialised ONNX ModelProto (float32 weights as raw_data initializers, dynamic N/H/W). */
export function buildOnnxModel(net: FoldedNetwork, opts: OnnxModelOptions): Uint8Array {
  const opset = opts.opset ?? DEFAULT_OPSET;
  const irVersion = IR_VERSION_BY_OPSET[opset];
  if (irVersion === undefined) {
    throw new OnnxGraphError(`ONNX opset ${opset} is not supported; use one of ${Object.keys(IR_VERSION_BY_OPSET).join(', ')}`);
  }
  const { layout } = opts;
  const b = new OnnxGraphBuilder();
  const emit = new NetworkEmitter(b);
  const outputName = OUTPUT_NAMES[layout];
  const x = layout === 'engine' ? b.node('Transpose', [INPUT_NAME], 'input', { attributes: [attr.ints('perm', NHWC_TO_NCHW)] }) : INPUT_NAME;

  const features = emit.backbone(x, net.backbone);
  const head = net.head;
  let result: string;
  if (head.kind === 'classifier') {
    result = emit.classifierHead(features[features.length - 1], head.fc1, head.fc2);
  } else {
    const logits = emit.lrasppHead(features, head);
    result = layout === 'engine'
      ? b.node('Transpose', [logits], 'output', { attributes: [attr.ints('perm', NCHW_TO_NHWC)] })
      : emit.resizeLike(logits, INPUT_NAME, 'output');
  }
  b.renameOutput(result, outputName);

  const shapes = layoutShapes(net, layout);
  const model: OnnxSchema.IModelProto = {
    irVersion,
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'cityseg',
    docString: describe(net, layout),
    metadataProps: metadata(net, opts),
    graph: b.graph(net.arch, [floatValueInfo(INPUT_NAME, shapes.input)], [floatValueInfo(outputName, shapes.output)]),
  };
  return onnx.ModelProto.encode(model).finish();
}
