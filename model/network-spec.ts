/**
 * The layer-by-layer description of each architecture, named exactly as torchvision names its state_dict entries.
 * Everything else derives from it: the expected tensor shapes for strict loading, parameter counts, the seeded
 * initialisation, BatchNorm folding and the engines' graphs.
 */
import { ARCHITECTURES, backboneConfig, makeDivisible, type ArchName, type BackboneOptions, type BlockConfig, type ModelTask } from './architectures.js';
import { fastsegSpec } from './fastseg.js';

export type Activation = 'linear' | 'relu' | 'hardswish' | 'hardsigmoid' | 'sigmoid';

/** torchvision's MobileNetV3 BatchNorm: `partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)`. */
const BACKBONE_BN_EPS = 1e-3;
/** LRASPPHead's `nn.BatchNorm2d(inter_channels)` keeps PyTorch's default eps. */
const HEAD_BN_EPS = 1e-5;
/** LRASPPHead's inter_channels. */
const LRASPP_INTER_CHANNELS = 128;

export interface ConvSpec {
  /** state_dict name of the convolution's weight, shape [out, in/groups, k, k]. */
  weight: string;
  /** state_dict name of the convolution's own bias, when it has one. */
  bias?: string;
  /** state_dict prefix of the BatchNorm that follows (weight, bias, running_mean, running_var). */
  batchNorm?: { prefix: string; eps: number };
  inChannels: number;
  outChannels: number;
  kernel: number;
  stride: number;
  dilation: number;
  groups: number;
  /** torch pads symmetrically by (k-1)/2 * dilation, also for stride 2: never TF's asymmetric 'same'. */
  padding: number;
  /**
   * TensorFlow's 'same' instead (geffnet's Conv2dSame): the total pad depends on the input size,
   * max((ceil(in / s) - 1) * s + (k - 1) * d + 1 - in, 0), its odd pixel at the bottom/right; `padding` is unused.
   */
  samePadding?: true;
  activation: Activation;
}

export interface LinearSpec {
  weight: string;
  bias: string;
  inFeatures: number;
  outFeatures: number;
  activation: Activation;
}

export interface BlockSpec<C> {
  expand?: C;
  depthwise: C;
  /** Squeeze-and-excite: global pool, fc1 + ReLU, fc2 + hard-sigmoid, scale the input. */
  se?: { fc1: C; fc2: C };
  project: C;
  residual: boolean;
}

export interface BackboneSpec<C> {
  stem: C;
  blocks: BlockSpec<C>[];
  lastConv: C;
}

export interface ClassifierHeadSpec<L> {
  kind: 'classifier';
  fc1: L;
  fc2: L;
}

export interface LrasppHeadSpec<C> {
  kind: 'lraspp';
  /** Index into features (0 = stem, 1..n = blocks) whose output is the 1/8 low-level feature. */
  lowFeature: number;
  cbr: C;
  scale: C;
  lowClassifier: C;
  highClassifier: C;
}

/** fastseg's LRASPP head (use_aspp=False), named as its state_dict names it (model/fastseg.ts builds it). */
export interface FastsegHeadSpec<C> {
  kind: 'fastseg';
  /** Indices into features (0 = stem, 1..n = blocks) of the stride-2 and stride-4 maps the decoder concatenates. */
  s2Feature: number;
  s4Feature: number;
  /** The gate's nn.AvgPool2d: [height, width] window and stride, no padding. */
  gatePool: { kernel: readonly [number, number]; stride: readonly [number, number] };
  asppConv1: C;
  asppConv2: C;
  convs2: C;
  convs4: C;
  convUp1: C;
  convUp2: C;
  convUp3: C;
  last: C;
}

export type HeadSpec<C, L> = ClassifierHeadSpec<L> | LrasppHeadSpec<C> | FastsegHeadSpec<C>;

export interface NetworkSpec<C = ConvSpec, L = LinearSpec> {
  arch: ArchName;
  task: ModelTask;
  numClasses: number;
  backbone: BackboneSpec<C>;
  head: HeadSpec<C, L>;
}

/** The convs of a fastseg head in forward order. */
const FASTSEG_HEAD_CONVS = ['asppConv1', 'asppConv2', 'convs2', 'convs4', 'convUp1', 'convUp2', 'convUp3', 'last'] as const;

export interface ConvArgs {
  inChannels: number;
  outChannels: number;
  kernel?: number;
  stride?: number;
  dilation?: number;
  groups?: number;
  activation: Activation;
}

export function conv(args: ConvArgs, names: Pick<ConvSpec, 'weight' | 'bias' | 'batchNorm'>): ConvSpec {
  const { kernel = 1, stride = 1, dilation = 1, groups = 1 } = args;
  return { ...args, ...names, kernel, stride, dilation, groups, padding: ((kernel - 1) >> 1) * dilation };
}

/** torchvision's Conv2dNormActivation: `<prefix>.0` conv without bias, `<prefix>.1` BatchNorm. */
function convNormAct(prefix: string, args: ConvArgs, eps = BACKBONE_BN_EPS): ConvSpec {
  return conv(args, { weight: `${prefix}.0.weight`, batchNorm: { prefix: `${prefix}.1`, eps } });
}

/** A plain nn.Conv2d with bias (SE's fc1/fc2, LR-ASPP's classifiers). */
function convWithBias(prefix: string, args: ConvArgs): ConvSpec {
  return conv(args, { weight: `${prefix}.weight`, bias: `${prefix}.bias` });
}

function invertedResidual(prefix: string, cfg: BlockConfig): BlockSpec<ConvSpec> {
  const activation: Activation = cfg.useHardswish ? 'hardswish' : 'relu';
  let index = 0;
  const next = () => `${prefix}.block.${index++}`;
  const expand = cfg.expandedChannels !== cfg.inChannels
    ? convNormAct(next(), { inChannels: cfg.inChannels, outChannels: cfg.expandedChannels, activation })
    : undefined;
  // Dilated blocks keep stride 1 so the last stage stays at output stride 16.
  const depthwise = convNormAct(next(), {
    inChannels: cfg.expandedChannels,
    outChannels: cfg.expandedChannels,
    kernel: cfg.kernel,
    stride: cfg.dilation > 1 ? 1 : cfg.stride,
    dilation: cfg.dilation,
    groups: cfg.expandedChannels,
    activation,
  });
  let se: BlockSpec<ConvSpec>['se'];
  if (cfg.useSe) {
    const sePrefix = next();
    // torchvision: _make_divisible(expanded // 4, 8).
    const squeeze = makeDivisible(Math.floor(cfg.expandedChannels / 4));
    se = {
      fc1: convWithBias(`${sePrefix}.fc1`, { inChannels: cfg.expandedChannels, outChannels: squeeze, activation: 'relu' }),
      fc2: convWithBias(`${sePrefix}.fc2`, { inChannels: squeeze, outChannels: cfg.expandedChannels, activation: 'hardsigmoid' }),
    };
  }
  const project = convNormAct(next(), { inChannels: cfg.expandedChannels, outChannels: cfg.outChannels, activation: 'linear' });
  return { expand, depthwise, se, project, residual: cfg.stride === 1 && cfg.inChannels === cfg.outChannels };
}

export interface NetworkOptions extends Omit<BackboneOptions, 'dilated'> {
  numClasses?: number;
  /** fastseg's head width F (64, 128 or 256); other families have none. */
  filters?: number;
}

/** The class count asked for, checked: 1..255 for segmentation (8-bit class maps), 1..100000 for classifiers. */
export function checkedNumClasses(arch: ArchName, numClasses = ARCHITECTURES[arch].defaultNumClasses): number {
  const maxClasses = ARCHITECTURES[arch].task === 'segmentation' ? 255 : 100_000;
  if (!Number.isInteger(numClasses) || numClasses < 1 || numClasses > maxClasses) {
    throw new RangeError(`numClasses must be an integer from 1 to ${maxClasses} for ${arch}, got ${numClasses}`);
  }
  return numClasses;
}

export function networkSpec(arch: ArchName, options: NetworkOptions = {}): NetworkSpec {
  const def = ARCHITECTURES[arch];
  if (def.family === 'fastseg') return fastsegSpec(arch, options);
  const numClasses = checkedNumClasses(arch, options.numClasses);
  const cfg = backboneConfig(def.backbone, { ...options, dilated: def.dilated });
  // Segmentation models wrap the features in IntermediateLayerGetter as `backbone`.
  const root = def.task === 'segmentation' ? 'backbone' : 'features';
  const stem = convNormAct(`${root}.0`, { inChannels: 3, outChannels: cfg.stemChannels, kernel: 3, stride: 2, activation: 'hardswish' });
  const blocks = cfg.blocks.map((block, i) => invertedResidual(`${root}.${i + 1}`, block));
  const lastIn = cfg.blocks[cfg.blocks.length - 1].outChannels;
  const lastConv = convNormAct(`${root}.${cfg.blocks.length + 1}`, { inChannels: lastIn, outChannels: cfg.lastConvChannels, activation: 'hardswish' });
  const common = { arch, task: def.task, numClasses, backbone: { stem, blocks, lastConv } };

  if (def.task === 'classification') {
    return {
      ...common,
      head: {
        kind: 'classifier',
        fc1: { weight: 'classifier.0.weight', bias: 'classifier.0.bias', inFeatures: cfg.lastConvChannels, outFeatures: cfg.lastChannel, activation: 'hardswish' },
        // classifier.2 is Dropout(0.2), inactive at inference.
        fc2: { weight: 'classifier.3.weight', bias: 'classifier.3.bias', inFeatures: cfg.lastChannel, outFeatures: numClasses, activation: 'linear' },
      },
    };
  }

  // torchvision's _lraspp_mobilenetv3: stage_indices = [0] + strided blocks (C1..C4) + [last]; low = stage_indices[-4].
  const stageIndices = [0, ...cfg.blocks.flatMap((b, i) => (b.stride > 1 ? [i + 1] : [])), cfg.blocks.length + 1];
  const lowFeature = stageIndices[stageIndices.length - 4];
  const lowChannels = cfg.blocks[lowFeature - 1].outChannels;
  const high = cfg.lastConvChannels;
  return {
    ...common,
    head: {
      kind: 'lraspp',
      lowFeature,
      cbr: convNormAct('classifier.cbr', { inChannels: high, outChannels: LRASPP_INTER_CHANNELS, activation: 'relu' }, HEAD_BN_EPS),
      scale: conv({ inChannels: high, outChannels: LRASPP_INTER_CHANNELS, activation: 'sigmoid' }, { weight: 'classifier.scale.1.weight' }),
      lowClassifier: convWithBias('classifier.low_classifier', { inChannels: lowChannels, outChannels: numClasses, activation: 'linear' }),
      highClassifier: convWithBias('classifier.high_classifier', { inChannels: LRASPP_INTER_CHANNELS, outChannels: numClasses, activation: 'linear' }),
    },
  };
}

/** Every conv of a network in forward order, for code that treats them alike (init, folding, shapes). */
export function convsOf<C, L>(spec: NetworkSpec<C, L>): C[] {
  const { stem, blocks, lastConv } = spec.backbone;
  const blockConvs = blocks.flatMap((b) => [b.expand, b.depthwise, b.se?.fc1, b.se?.fc2, b.project].filter((c): c is C => c !== undefined));
  const head = spec.head;
  const headConvs = head.kind === 'lraspp'
    ? [head.cbr, head.scale, head.lowClassifier, head.highClassifier]
    : head.kind === 'fastseg' ? FASTSEG_HEAD_CONVS.map((name) => head[name]) : [];
  return [stem, ...blockConvs, lastConv, ...headConvs];
}

export function linearsOf<C, L>(spec: NetworkSpec<C, L>): L[] {
  return spec.head.kind === 'classifier' ? [spec.head.fc1, spec.head.fc2] : [];
}

/** Apply `mapConv` and `mapLinear` to every layer, keeping the network's structure. */
export function mapNetwork<C, L, C2, L2>(spec: NetworkSpec<C, L>, mapConv: (c: C) => C2, mapLinear: (l: L) => L2): NetworkSpec<C2, L2> {
  const { stem, blocks, lastConv } = spec.backbone;
  const backbone: BackboneSpec<C2> = {
    stem: mapConv(stem),
    blocks: blocks.map((b) => ({
      expand: b.expand && mapConv(b.expand),
      depthwise: mapConv(b.depthwise),
      se: b.se && { fc1: mapConv(b.se.fc1), fc2: mapConv(b.se.fc2) },
      project: mapConv(b.project),
      residual: b.residual,
    })),
    lastConv: mapConv(lastConv),
  };
  return { arch: spec.arch, task: spec.task, numClasses: spec.numClasses, backbone, head: mapHead(spec.head, mapConv, mapLinear) };
}

function mapHead<C, L, C2, L2>(head: HeadSpec<C, L>, mapConv: (c: C) => C2, mapLinear: (l: L) => L2): HeadSpec<C2, L2> {
  switch (head.kind) {
    case 'classifier':
      return { kind: 'classifier', fc1: mapLinear(head.fc1), fc2: mapLinear(head.fc2) };
    case 'lraspp':
      return {
        kind: 'lraspp',
        lowFeature: head.lowFeature,
        cbr: mapConv(head.cbr),
        scale: mapConv(head.scale),
        lowClassifier: mapConv(head.lowClassifier),
        highClassifier: mapConv(head.highClassifier),
      };
    case 'fastseg': {
      const { s2Feature, s4Feature, gatePool } = head;
      const convs = Object.fromEntries(FASTSEG_HEAD_CONVS.map((name) => [name, mapConv(head[name])])) as Record<(typeof FASTSEG_HEAD_CONVS)[number], C2>;
      return { kind: 'fastseg', s2Feature, s4Feature, gatePool, ...convs };
    }
  }
}

/** The state_dict torchvision writes for this network: name → shape (BatchNorm buffers included, num_batches_tracked not). */
export function expectedShapes(spec: NetworkSpec): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  for (const c of convsOf(spec)) {
    shapes.set(c.weight, [c.outChannels, c.inChannels / c.groups, c.kernel, c.kernel]);
    if (c.bias) shapes.set(c.bias, [c.outChannels]);
    if (c.batchNorm) {
      for (const field of ['weight', 'bias', 'running_mean', 'running_var']) shapes.set(`${c.batchNorm.prefix}.${field}`, [c.outChannels]);
    }
  }
  for (const l of linearsOf(spec)) {
    shapes.set(l.weight, [l.outFeatures, l.inFeatures]);
    shapes.set(l.bias, [l.outFeatures]);
  }
  return shapes;
}

/** Learnable parameters, as `sum(p.numel() for p in model.parameters())` counts them (no running statistics). */
export function parameterCount(spec: NetworkSpec): number {
  let total = 0;
  for (const [name, shape] of expectedShapes(spec)) {
    if (name.endsWith('.running_mean') || name.endsWith('.running_var')) continue;
    total += shape.reduce((a, b) => a * b, 1);
  }
  return total;
}
