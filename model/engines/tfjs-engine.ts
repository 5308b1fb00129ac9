/**
 * The TensorFlow.js engine: the folded network as tfjs weight tensors (NHWC / HWIO) and a forward pass that
 * mirrors torchvision's module order. Pads are explicit numbers, so stride-2 convs pad symmetrically like torch.
 */
import type { FoldedConv, FoldedLinear, FoldedNetwork } from '../fold.js';
import { convsOf, linearsOf, mapNetwork, type Activation, type BackboneSpec, type BlockSpec, type NetworkSpec } from '../network-spec.js';
import type { Float32Tensor, InferenceEngine } from './engine.js';
import { initTfjs, tf, type TfjsBackendName } from './tfjs-runtime.js';

interface TfConv {
  spec: FoldedConv;
  filter: tf.Tensor4D;
  bias: tf.Tensor1D;
  depthwise: boolean;
}

interface TfLinear {
  spec: FoldedLinear;
  /** [in, out]: torch's weight transposed for x @ W. */
  matrix: tf.Tensor2D;
  bias: tf.Tensor1D;
}

/** torch [out, in/groups, k, k] → tfjs HWIO [k, k, in, out], or [k, k, channels, 1] for depthwise. */
function toTfConv(spec: FoldedConv): TfConv {
  const { outChannels: out, kernel: k, groups } = spec;
  const inPerGroup = spec.inChannels / groups;
  const depthwise = groups > 1;
  if (depthwise && (groups !== out || inPerGroup !== 1)) throw new Error(`${spec.weight}: only depthwise grouped convs are supported`);
  const filter = tf.tidy(() => {
    const torchLayout = tf.tensor4d(spec.filter, [out, inPerGroup, k, k]);
    // OIHW → HWIO; for depthwise O = channels and I = 1, giving [k, k, channels, 1] as tfjs wants.
    return tf.transpose(torchLayout, depthwise ? [2, 3, 0, 1] : [2, 3, 1, 0]) as tf.Tensor4D;
  });
  return { spec, filter, bias: tf.tensor1d(spec.biasValues), depthwise };
}

function toTfLinear(spec: FoldedLinear): TfLinear {
  const matrix = tf.tidy(() => tf.transpose(tf.tensor2d(spec.matrix, [spec.outFeatures, spec.inFeatures])) as tf.Tensor2D);
  return { spec, matrix, bias: tf.tensor1d(spec.biasValues) };
}

/** Activations tfjs fuses into the conv kernel; the hard variants are applied after. */
const FUSED: Partial<Record<Activation, 'linear' | 'relu' | 'sigmoid'>> = { linear: 'linear', relu: 'relu', sigmoid: 'sigmoid' };

function hardSigmoid(x: tf.Tensor): tf.Tensor {
  // torch: relu6(x + 3) / 6
  return tf.div(tf.relu6(tf.add(x, 3)), 6);
}

function activate<T extends tf.Tensor>(x: T, activation: Activation): T {
  if (FUSED[activation]) return x;
  if (activation === 'hardsigmoid') return hardSigmoid(x) as T;
  // hard-swish: x * relu6(x + 3) / 6
  return tf.mul(x, hardSigmoid(x)) as T;
}

function runConv(x: tf.Tensor4D, c: TfConv): tf.Tensor4D {
  const { stride, dilation, padding, activation } = c.spec;
  const args = { x, filter: c.filter, strides: stride, pad: padding, dilations: dilation, bias: c.bias, activation: FUSED[activation] ?? 'linear' };
  const y = c.depthwise ? tf.fused.depthwiseConv2d(args) : tf.fused.conv2d(args);
  return activate(y, activation);
}

function runLinear(x: tf.Tensor2D, l: TfLinear): tf.Tensor2D {
  const y = tf.fused.matMul({ a: x, b: l.matrix, bias: l.bias, activation: FUSED[l.spec.activation] ?? 'linear' }) as tf.Tensor2D;
  return activate(y, l.spec.activation);
}

function globalAveragePool(x: tf.Tensor4D): tf.Tensor4D {
  return tf.mean(x, [1, 2], true) as tf.Tensor4D;
}

function runBlock(x: tf.Tensor4D, block: BlockSpec<TfConv>): tf.Tensor4D {
  let y = block.expand ? runConv(x, block.expand) : x;
  y = runConv(y, block.depthwise);
  if (block.se) {
    const scale = runConv(runConv(globalAveragePool(y), block.se.fc1), block.se.fc2);
    y = tf.mul(y, scale);
  }
  y = runConv(y, block.project);
  return block.residual ? tf.add(y, x) : y;
}

/** Runs features[0..], returning every feature map so heads can pick the ones they need. */
function runBackbone(x: tf.Tensor4D, backbone: BackboneSpec<TfConv>, lastFeature = backbone.blocks.length + 1): tf.Tensor4D[] {
  const features = [runConv(x, backbone.stem)];
  for (const block of backbone.blocks.slice(0, lastFeature)) features.push(runBlock(features[features.length - 1], block));
  if (lastFeature > backbone.blocks.length) features.push(runConv(features[features.length - 1], backbone.lastConv));
  return features;
}

type TfNetwork = NetworkSpec<TfConv, TfLinear>;

function forward(net: TfNetwork, input: tf.Tensor4D): tf.Tensor {
  const features = runBackbone(input, net.backbone);
  const high = features[features.length - 1];
  const head = net.head;
  if (head.kind === 'classifier') {
    const pooled = tf.reshape(globalAveragePool(high), [high.shape[0], high.shape[3]]) as tf.Tensor2D;
    // classifier.2 is Dropout: identity at inference.
    return runLinear(runLinear(pooled, head.fc1), head.fc2);
  }
  const low = features[head.lowFeature];
  const gated = tf.mul(runConv(high, head.cbr), runConv(globalAveragePool(high), head.scale)) as tf.Tensor4D;
  // align_corners=False in torch is TF's half-pixel-centres resize.
  const upsampled = tf.image.resizeBilinear(gated, [low.shape[1], low.shape[2]], false, true);
  return tf.add(runConv(low, head.lowClassifier), runConv(upsampled, head.highClassifier));
}

export class TfjsEngine implements InferenceEngine {
  readonly engine = 'tfjs' as const;
  private net: TfNetwork | undefined;

  readonly backend: TfjsBackendName;
  private constructor(backend: TfjsBackendName, net: TfNetwork) {
    this.backend = backend;
    this.net = net;
  }

  static async create(folded: FoldedNetwork, backend?: TfjsBackendName): Promise<TfjsEngine> {
    const name = await initTfjs(backend);
    return new TfjsEngine(name, mapNetwork(folded, toTfConv, toTfLinear));
  }

  async run(input: Float32Tensor): Promise<Float32Tensor> {
    const net = this.net;
    if (!net) throw new Error('engine has been disposed');
    const [n, h, w, c] = input.shape;
    if (input.shape.length !== 4 || c !== 3) throw new Error(`expected NHWC input [N, H, W, 3], got [${input.shape.join(', ')}]`);
    const output = tf.tidy(() => forward(net, tf.tensor4d(input.data, [n, h, w, c])));
    try {
      const data = (await output.data()) as Float32Array;
      return { data, shape: output.shape.slice() };
    } finally {
      output.dispose();
    }
  }

  dispose(): void {
    if (!this.net) return;
    for (const c of convsOf(this.net)) tf.dispose([c.filter, c.bias]);
    for (const l of linearsOf(this.net)) tf.dispose([l.matrix, l.bias]);
    this.net = undefined;
  }
}
