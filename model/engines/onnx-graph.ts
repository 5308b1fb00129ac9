/**
 * Emits a FoldedNetwork as an ONNX model: model/forward.ts's forward pass over ONNX nodes (model/engines/onnx-ops.ts).
 * The graph is NCHW inside, with torch's OIHW weights stored as they are; 'engine' layout wraps it in the
 * NHWC interface of InferenceEngine, 'torchvision' layout is torchvision's own interface for other runtimes.
 */
import type { onnx as OnnxSchema } from 'onnx-proto';
import type { FoldedConv, FoldedLinear, FoldedNetwork } from '../fold.js';
import { forward, type NetworkOps } from '../forward.js';
import { attr, floatValueInfo, onnx, OnnxGraphBuilder, type Dim } from './onnx-builder.js';
import { OnnxGraphError } from './onnx-errors.js';
import { OnnxOps } from './onnx-ops.js';

export type OnnxLayout = 'engine' | 'torchvision';

export interface OnnxModelOptions {
  layout: OnnxLayout;
  opset?: number;
  /** Where the weights came from (file, URL or `seeded-init:<seed>`), recorded in metadata_props. */
  weightsSource?: string;
  weightsSha256?: string | null;
  /**
   * The ops the forward pass is emitted with (default: fp32 OnnxOps); model/quantize passes its QDQ ops for int8,
   * or its recorder for calibration, whose `extraOutputs` become float graph outputs of unknown shape.
   */
  opsFor?: (b: OnnxGraphBuilder) => NetworkOps<string, FoldedConv, FoldedLinear> & { extraOutputs?(): string[] };
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
  const outputName = OUTPUT_NAMES[layout];
  const x = layout === 'engine' ? b.node('Transpose', [INPUT_NAME], 'input', { attributes: [attr.ints('perm', NHWC_TO_NCHW)] }) : INPUT_NAME;
  // The engine layout stops at the 1/8 logits (post-processing upsamples them); torchvision's ends at the input size.
  const ops: ReturnType<NonNullable<OnnxModelOptions['opsFor']>> = opts.opsFor ? opts.opsFor(b) : new OnnxOps(b);
  const logits = forward(ops, net, x, { upsample: layout === 'torchvision' });
  const result = layout === 'engine' && net.task === 'segmentation'
    ? b.node('Transpose', [logits], 'output', { attributes: [attr.ints('perm', NCHW_TO_NHWC)] })
    : logits;
  b.renameOutput(result, outputName);

  const shapes = layoutShapes(net, layout);
  const model: OnnxSchema.IModelProto = {
    irVersion,
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'cityseg',
    docString: describe(net, layout),
    metadataProps: metadata(net, opts),
    graph: b.graph(net.arch, [floatValueInfo(INPUT_NAME, shapes.input)], [
      floatValueInfo(outputName, shapes.output),
      ...(ops.extraOutputs?.() ?? []).map((name) => ({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } })),
    ]),
  };
  return onnx.ModelProto.encode(model).finish();
}
