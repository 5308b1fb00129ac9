/**
 * fastseg's MobileNetV3 LR-ASPP family (ekzhang/fastseg, `fastseg/model/{lraspp,mobilenetv3,utils}.py`) as data:
 * the trunk is geffnet's `tf_mobilenetv3_{large,small}_100` (rwightman/gen-efficientnet-pytorch, the TensorFlow
 * port: 'same' padding, BatchNorm eps 1e-3) with two stages made stride 1 and dilated 2 and 4, so it ends at output
 * stride 8; the head gates the last map with a 49x49 average pool and decodes through the stride-4 and stride-2
 * maps. Every layer is named as fastseg's state_dict names it (after DataParallel's `module.` prefix).
 */
import { ARCHITECTURES, backboneConfig, makeDivisible, type BackboneName, type BlockConfig } from './architectures.js';
import type { ArchName } from './loaded-model.js';
import { checkedNumClasses, conv, type Activation, type BlockSpec, type ConvArgs, type ConvSpec, type NetworkOptions, type NetworkSpec } from './network-spec.js';

/** geffnet's tf_ trunks: `bn_eps=BN_EPS_TF_DEFAULT`. */
const TRUNK_BN_EPS = 1e-3;
/** fastseg's head BatchNorms (nn.BatchNorm2d in aspp_conv1, ConvBnRelu's `eps=1e-5`). */
const HEAD_BN_EPS = 1e-5;
/** The decoder's reductions of the stride-4 and stride-2 maps (convs4, convs2). */
const S4_CHANNELS = 64;
const S2_CHANNELS = 32;

/** The head widths F fastseg publishes weights for. */
export const FASTSEG_FILTERS = [64, 128, 256] as const;
export const FASTSEG_DEFAULT_FILTERS = 128;

/** The gate's nn.AvgPool2d(kernel_size=(49, 49), stride=(16, 20)), over the trunk's output-stride-8 map. */
export const FASTSEG_GATE_POOL = { kernel: [49, 49], stride: [16, 20] } as const;
export const FASTSEG_OUTPUT_STRIDE = 8;
/**
 * The smallest input side fastseg's forward accepts: the stride-8 map, ceil(side / 8) after three 'same' stride-2
 * convs, must be at least the pool's 49, so side >= 48 * 8 + 1 = 385.
 */
export const FASTSEG_MIN_INPUT_SIDE = (FASTSEG_GATE_POOL.kernel[0] - 1) * FASTSEG_OUTPUT_STRIDE + 1;

/**
 * The smallest height and width `arch` accepts: FASTSEG_MIN_INPUT_SIDE for fastseg's family, 1 for torchvision's
 * (global pooling takes any size). The inference-size policy raises smaller images to it (segmentation/preprocess.ts).
 */
export function minInputSide(arch: ArchName): number {
  return ARCHITECTURES[arch].family === 'fastseg' ? FASTSEG_MIN_INPUT_SIDE : 1;
}

interface FastsegTrunk {
  /** How many of BACKBONE_TABLES' rows each geffnet stage `trunk.block<i>` holds; the stage after them is the 1x1 conv. */
  stages: readonly number[];
  /** The stages whose first block fastseg sets to stride 1: from the first on dilation 2, from the second on 4. */
  unstrided: readonly [number, number];
  /** The stage after which the stride-2 and stride-4 maps are taken (-1: the stem, `trunk.early`). */
  s2After: number;
  s4After: number;
}

const TRUNKS: Record<BackboneName, FastsegTrunk> = {
  // MobileNetV3_Large: blocks 3 and 5 unstrided; s2 after block0, s4 after block1.
  mobilenet_v3_large: { stages: [1, 2, 3, 4, 2, 3], unstrided: [3, 5], s2After: 0, s4After: 1 },
  // MobileNetV3_Small: blocks 2 and 4 unstrided; s2 after the stem, s4 after block0.
  mobilenet_v3_small: { stages: [1, 2, 3, 2, 3], unstrided: [2, 4], s2After: -1, s4After: 0 },
};

/** A geffnet layer: conv `<prefix>.<conv>` without bias, BatchNorm `<prefix>.<bn>`. */
function convBn(prefix: string, convName: string, bnName: string, args: ConvArgs, eps: number): ConvSpec {
  const spec = conv(args, { weight: `${prefix}.${convName}.weight`, batchNorm: { prefix: `${prefix}.${bnName}`, eps } });
  // Built with stride 2 and a kernel > 1, geffnet's 'same' conv is Conv2dSame; stride-1 ones pad statically.
  return spec.stride > 1 && spec.kernel > 1 ? { ...spec, samePadding: true } : spec;
}

function biased(name: string, args: ConvArgs): ConvSpec {
  return conv(args, { weight: `${name}.weight`, bias: `${name}.bias` });
}

/**
 * geffnet's DepthwiseSeparableConv (no expansion: conv_dw/bn1, se, conv_pw/bn2) or InvertedResidual
 * (conv_pw/bn1, conv_dw/bn2, se, conv_pwl/bn3); SE is conv_reduce + ReLU, conv_expand + hard-sigmoid, its width
 * make_divisible(mid * 0.25, 8). `stride` and `dilation` are fastseg's, the residual follows the built stride.
 */
function geffnetBlock(prefix: string, cfg: BlockConfig, stride: number, dilation: number): BlockSpec<ConvSpec> {
  const activation: Activation = cfg.useHardswish ? 'hardswish' : 'relu';
  const mid = cfg.expandedChannels;
  const separable = mid === cfg.inChannels;
  const [dwBn, projectConv, projectBn] = separable ? ['bn1', 'conv_pw', 'bn2'] : ['bn2', 'conv_pwl', 'bn3'];
  const expand = separable ? undefined : convBn(prefix, 'conv_pw', 'bn1', { inChannels: cfg.inChannels, outChannels: mid, activation }, TRUNK_BN_EPS);
  const depthwiseArgs = { inChannels: mid, outChannels: mid, kernel: cfg.kernel, stride, dilation, groups: mid, activation };
  // A Conv2dSame whose stride fastseg set to 1 pads (k - 1) * d / 2 on every side, as a static conv does.
  const depthwise = convBn(prefix, 'conv_dw', dwBn, depthwiseArgs, TRUNK_BN_EPS);
  const squeeze = makeDivisible(mid * 0.25);
  const se = cfg.useSe
    ? {
        fc1: biased(`${prefix}.se.conv_reduce`, { inChannels: mid, outChannels: squeeze, activation: 'relu' }),
        fc2: biased(`${prefix}.se.conv_expand`, { inChannels: squeeze, outChannels: mid, activation: 'hardsigmoid' }),
      }
    : undefined;
  const project = convBn(prefix, projectConv, projectBn, { inChannels: mid, outChannels: cfg.outChannels, activation: 'linear' }, TRUNK_BN_EPS);
  return { expand, depthwise, se, project, residual: cfg.stride === 1 && cfg.inChannels === cfg.outChannels };
}

/**
 * fastseg's MobileV3Large / MobileV3Small with `filters` F (64, 128 or 256; default 128) and `numClasses`
 * (default 19), as a NetworkSpec whose head is `kind: 'fastseg'`. Throws RangeError for another F or class count.
 */
export function fastsegSpec(arch: ArchName, options: NetworkOptions = {}): NetworkSpec {
  const def = ARCHITECTURES[arch];
  const numClasses = checkedNumClasses(arch, options.numClasses);
  const filters = options.filters ?? FASTSEG_DEFAULT_FILTERS;
  if (!(FASTSEG_FILTERS as readonly number[]).includes(filters)) {
    throw new RangeError(`filters must be one of ${FASTSEG_FILTERS.join(', ')} for ${arch}, got ${filters}`);
  }
  const trunk = TRUNKS[def.backbone];
  const cfg = backboneConfig(def.backbone);
  const stem = convBn('trunk.early', '0', '1', { inChannels: 3, outChannels: cfg.stemChannels, kernel: 3, stride: 2, activation: 'hardswish' }, TRUNK_BN_EPS);
  const dilationOf = (stage: number) => (stage >= trunk.unstrided[1] ? 4 : stage >= trunk.unstrided[0] ? 2 : 1);
  const blocks: BlockSpec<ConvSpec>[] = [];
  /** features index after each stage (the stem is 0). */
  const featureAfter: number[] = [];
  trunk.stages.forEach((count, stage) => {
    for (let j = 0; j < count; j++) {
      const row = cfg.blocks[blocks.length];
      const stride = j === 0 && trunk.unstrided.includes(stage) ? 1 : row.stride;
      blocks.push(geffnetBlock(`trunk.block${stage}.${j}`, row, stride, dilationOf(stage)));
    }
    featureAfter.push(blocks.length);
  });
  const lastIn = cfg.blocks[cfg.blocks.length - 1].outChannels;
  const high = cfg.lastConvChannels;
  const lastConv = convBn(`trunk.block${trunk.stages.length}.0`, 'conv', 'bn1', { inChannels: lastIn, outChannels: high, activation: 'hardswish' }, TRUNK_BN_EPS);
  const channelsAfter = (stage: number) => (stage < 0 ? cfg.stemChannels : cfg.blocks[featureAfter[stage] - 1].outChannels);
  const featureOf = (stage: number) => (stage < 0 ? 0 : featureAfter[stage]);
  const plain = (name: string, args: ConvArgs) => conv(args, { weight: `${name}.weight` });
  const head = (name: string, args: ConvArgs) => conv(args, { weight: `${name}.conv.weight`, batchNorm: { prefix: `${name}.bn`, eps: HEAD_BN_EPS } });
  const F = filters;
  return {
    arch,
    task: def.task,
    numClasses,
    backbone: { stem, blocks, lastConv },
    head: {
      kind: 'fastseg',
      s2Feature: featureOf(trunk.s2After),
      s4Feature: featureOf(trunk.s4After),
      gatePool: FASTSEG_GATE_POOL,
      asppConv1: conv({ inChannels: high, outChannels: F, activation: 'relu' }, { weight: 'aspp_conv1.0.weight', batchNorm: { prefix: 'aspp_conv1.1', eps: HEAD_BN_EPS } }),
      asppConv2: plain('aspp_conv2.1', { inChannels: high, outChannels: F, activation: 'sigmoid' }),
      convs2: plain('convs2', { inChannels: channelsAfter(trunk.s2After), outChannels: S2_CHANNELS, activation: 'linear' }),
      convs4: plain('convs4', { inChannels: channelsAfter(trunk.s4After), outChannels: S4_CHANNELS, activation: 'linear' }),
      convUp1: biased('conv_up1', { inChannels: F, outChannels: F, activation: 'linear' }),
      convUp2: head('conv_up2', { inChannels: F + S4_CHANNELS, outChannels: F, activation: 'relu' }),
      convUp3: head('conv_up3', { inChannels: F + S2_CHANNELS, outChannels: F, activation: 'relu' }),
      last: biased('last', { inChannels: F, outChannels: numClasses, activation: 'linear' }),
    },
  };
}
