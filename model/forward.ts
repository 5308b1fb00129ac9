/**
 * The network's forward pass, written once as torchvision writes it (InvertedResidual, SqueezeExcitation,
 * MobileNetV3 and LRASPP/LRASPPHead `forward`) and as fastseg writes its LRASPP head, over the operations each engine implements: tfjs ops on tensors
 * (model/engines/tfjs-ops.ts) and ONNX nodes (model/engines/onnx-ops.ts). The layer tables it walks come from
 * model/network-spec.ts; the walk never looks at a layout, so NHWC (tfjs) and NCHW (ONNX) engines share it.
 */
import type { BackboneSpec, BlockSpec, ConvSpec, FastsegHeadSpec, LinearSpec, LrasppHeadSpec, NetworkSpec } from './network-spec.js';

/**
 * The operations a forward pass is made of, on an engine's values `T` (a tensor, or the name of an ONNX node's
 * output), its convolutions `C` and its Linears `L`. Every `scope` is the torch module path the op belongs to
 * (`backbone.4.block.2`), for engines that name what they build; engines that compute directly ignore it.
 */
export interface NetworkOps<T, C extends ConvSpec, L extends LinearSpec> {
  /**
   * torchvision's Conv2dNormActivation with BatchNorm folded: conv + bias, then `c.activation`; torch's symmetric
   * pads, or TensorFlow's 'same' (odd pixel bottom/right) where `c.samePadding`.
   */
  conv(x: T, c: C): T;
  /** nn.Linear (`x @ W^T + b`) on `[N, in]`, then `l.activation`; `[N, out]`. */
  linear(x: T, l: L): T;
  /** Elementwise sum of two maps of one shape. */
  add(a: T, b: T, scope: string): T;
  /** Elementwise product, `b` of `a`'s shape or a per-channel gate (height and width 1) broadcast over `a`. */
  multiply(a: T, b: T, scope: string): T;
  /** nn.AdaptiveAvgPool2d(1): mean over height and width, kept as axes of size 1 (`[N, C, 1, 1]` in NCHW). */
  globalAveragePool(x: T, scope: string): T;
  /** torch.flatten(x, 1) of a pooled map: `[N, C]`. */
  flatten(x: T, scope: string): T;
  /** F.interpolate(x, size=like's height and width, mode='bilinear', align_corners=False, or True with `alignCorners`). */
  resizeBilinear(x: T, like: T, scope: string, alignCorners?: boolean): T;
  /** nn.AvgPool2d(kernel, stride) without padding, [height, width] each: output floor((in - k) / s) + 1 per axis. */
  averagePool(x: T, kernel: readonly [number, number], stride: readonly [number, number], scope: string): T;
  /** torch.cat([a, b], 1): channels of `a`, then of `b`, maps of one height and width. */
  concatChannels(a: T, b: T, scope: string): T;
}

export interface ForwardOptions {
  /**
   * Segmentation only: end with LRASPP's final upsample to the input's size, as torchvision's `forward` does.
   * Engines leave it out (default) and return the 1/8 logits, which post-processing upsamples straight to the
   * image's own size.
   */
  upsample?: boolean;
}

/** A layer's torch module path: `backbone.1.block.0.0.weight` → `backbone.1.block.0.0`. */
export function moduleOf(weightName: string): string {
  return weightName.replace(/\.weight$/, '');
}

/** torchvision's SqueezeExcitation: scale = hardsigmoid(fc2(relu(fc1(avgpool(x))))), then x * scale. */
function squeezeExcitation<T, C extends ConvSpec, L extends LinearSpec>(ops: NetworkOps<T, C, L>, x: T, se: { fc1: C; fc2: C }): T {
  const scope = moduleOf(se.fc1.weight).replace(/\.fc1$/, '');
  const scale = ops.conv(ops.conv(ops.globalAveragePool(x, scope), se.fc1), se.fc2);
  return ops.multiply(x, scale, scope);
}

/** torchvision's InvertedResidual: expand, depthwise, squeeze-excite, project, plus the input when shapes allow. */
function invertedResidual<T, C extends ConvSpec, L extends LinearSpec>(ops: NetworkOps<T, C, L>, x: T, block: BlockSpec<C>): T {
  let y = block.expand ? ops.conv(x, block.expand) : x;
  y = ops.conv(y, block.depthwise);
  if (block.se) y = squeezeExcitation(ops, y, block.se);
  y = ops.conv(y, block.project);
  return block.residual ? ops.add(y, x, moduleOf(block.project.weight).replace(/\.block\.\d+\.0$/, '')) : y;
}

/** MobileNetV3's `features`: every feature map (0 = stem, 1..n = blocks, n+1 = last conv), so heads pick theirs. */
function backboneFeatures<T, C extends ConvSpec, L extends LinearSpec>(ops: NetworkOps<T, C, L>, x: T, backbone: BackboneSpec<C>): T[] {
  const features = [ops.conv(x, backbone.stem)];
  for (const block of backbone.blocks) features.push(invertedResidual(ops, features[features.length - 1], block));
  features.push(ops.conv(features[features.length - 1], backbone.lastConv));
  return features;
}

/** torchvision's LRASPPHead: cbr(high) gated by scale(high), upsampled to low, both classifiers summed. */
function lrasppHead<T, C extends ConvSpec, L extends LinearSpec>(ops: NetworkOps<T, C, L>, features: T[], head: LrasppHeadSpec<C>): T {
  const low = features[head.lowFeature];
  const high = features[features.length - 1];
  const gate = ops.conv(ops.globalAveragePool(high, 'classifier.scale'), head.scale);
  const gated = ops.multiply(ops.conv(high, head.cbr), gate, 'classifier');
  const upsampled = ops.resizeBilinear(gated, low, 'classifier');
  return ops.add(ops.conv(low, head.lowClassifier), ops.conv(upsampled, head.highClassifier), 'classifier');
}

/**
 * fastseg's LRASPP.forward (use_aspp=False): aspp_conv1(final) gated by the sigmoid of a 49x49-pooled 1x1 conv,
 * upsampled with align_corners=True; conv_up1, up to s4, concat convs4(s4), conv_up2, up to s2, concat convs2(s2),
 * conv_up3, last: logits at the stride-2 map's size.
 */
function fastsegHead<T, C extends ConvSpec, L extends LinearSpec>(ops: NetworkOps<T, C, L>, features: T[], head: FastsegHeadSpec<C>): T {
  const s2 = features[head.s2Feature];
  const s4 = features[head.s4Feature];
  const final = features[features.length - 1];
  const pooled = ops.averagePool(final, head.gatePool.kernel, head.gatePool.stride, 'aspp_conv2.0');
  const gate = ops.resizeBilinear(ops.conv(pooled, head.asppConv2), final, 'aspp_conv2', true);
  const aspp = ops.multiply(ops.conv(final, head.asppConv1), gate, 'aspp');
  let y = ops.resizeBilinear(ops.conv(aspp, head.convUp1), s4, 'conv_up1');
  y = ops.conv(ops.concatChannels(y, ops.conv(s4, head.convs4), 'convs4'), head.convUp2);
  y = ops.resizeBilinear(y, s2, 'conv_up2');
  y = ops.conv(ops.concatChannels(y, ops.conv(s2, head.convs2), 'convs2'), head.convUp3);
  return ops.conv(y, head.last);
}

/**
 * The network on one batch `input` (ImageNet-normalised RGB, N images of H x W in the engine's layout), as
 * torchvision 0.14's `forward`: MobileNetV3 → `[N, numClasses]` logits; LRASPP → logits at ⌈H/8⌉ x ⌈W/8⌉, fastseg's
 * at ⌈H/2⌉ x ⌈W/2⌉ (its forward, model/fastseg.ts), or at H x W with `upsample`, in the engine's layout. Throws only
 * what the engine's ops throw (fastseg's pool needs H and W of at least FASTSEG_MIN_INPUT_SIDE).
 */
export function forward<T, C extends ConvSpec, L extends LinearSpec>(
  ops: NetworkOps<T, C, L>,
  net: NetworkSpec<C, L>,
  input: T,
  options: ForwardOptions = {},
): T {
  const features = backboneFeatures(ops, input, net.backbone);
  const head = net.head;
  if (head.kind === 'classifier') {
    const pooled = ops.flatten(ops.globalAveragePool(features[features.length - 1], 'avgpool'), 'avgpool');
    // classifier.2 is Dropout: identity at inference.
    return ops.linear(ops.linear(pooled, head.fc1), head.fc2);
  }
  const logits = head.kind === 'fastseg' ? fastsegHead(ops, features, head) : lrasppHead(ops, features, head);
  return options.upsample ? ops.resizeBilinear(logits, input, 'output') : logits;
}
