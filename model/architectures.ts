/**
 * MobileNetV3 block tables, as in "Searching for MobileNetV3" (Howard et al., 2019) Tables 1 and 2 and torchvision's
 * `_mobilenet_v3_conf`. Each row is one bneck: kernel, expansion size, output channels, squeeze-and-excite,
 * non-linearity and stride. `tail` rows form the last stage, which `dilated` and `reducedTail` change.
 */
export type Nonlinearity = 'RE' | 'HS';
export type BackboneName = 'mobilenet_v3_large' | 'mobilenet_v3_small';

/** One row of the paper's table: kernel, exp size, #out, SE, NL, s. */
export type BneckRow = readonly [kernel: 3 | 5, expansion: number, out: number, se: boolean, nl: Nonlinearity, stride: 1 | 2];

interface BackboneTable {
  /** Stem: conv2d 3x3, stride 2, hard-swish, this many channels. */
  stemChannels: number;
  body: readonly BneckRow[];
  /** The last stage (C4): channels halved by reducedTail, dilated by `dilated`. */
  tail: readonly BneckRow[];
  /** Width of the classifier's hidden Linear (C5), halved by reducedTail. */
  lastChannel: number;
}

export const BACKBONE_TABLES: Record<BackboneName, BackboneTable> = {
  // Table 1.
  mobilenet_v3_large: {
    stemChannels: 16,
    body: [
      [3, 16, 16, false, 'RE', 1],
      [3, 64, 24, false, 'RE', 2],
      [3, 72, 24, false, 'RE', 1],
      [5, 72, 40, true, 'RE', 2],
      [5, 120, 40, true, 'RE', 1],
      [5, 120, 40, true, 'RE', 1],
      [3, 240, 80, false, 'HS', 2],
      [3, 200, 80, false, 'HS', 1],
      [3, 184, 80, false, 'HS', 1],
      [3, 184, 80, false, 'HS', 1],
      [3, 480, 112, true, 'HS', 1],
      [3, 672, 112, true, 'HS', 1],
    ],
    tail: [
      [5, 672, 160, true, 'HS', 2],
      [5, 960, 160, true, 'HS', 1],
      [5, 960, 160, true, 'HS', 1],
    ],
    lastChannel: 1280,
  },
  // Table 2.
  mobilenet_v3_small: {
    stemChannels: 16,
    body: [
      [3, 16, 16, true, 'RE', 2],
      [3, 72, 24, false, 'RE', 2],
      [3, 88, 24, false, 'RE', 1],
      [5, 96, 40, true, 'HS', 2],
      [5, 240, 40, true, 'HS', 1],
      [5, 240, 40, true, 'HS', 1],
      [5, 120, 48, true, 'HS', 1],
      [5, 144, 48, true, 'HS', 1],
    ],
    tail: [
      [5, 288, 96, true, 'HS', 2],
      [5, 576, 96, true, 'HS', 1],
      [5, 576, 96, true, 'HS', 1],
    ],
    lastChannel: 1024,
  },
};

export interface BackboneOptions {
  widthMult?: number;
  /** Last stage at output stride 16 with dilation 2 (what LR-ASPP uses). */
  dilated?: boolean;
  /** The paper's RF2 reduction: last stage channels halved. */
  reducedTail?: boolean;
}

/** One inverted-residual block after width multiplier, tail reduction and dilation are applied. */
export interface BlockConfig {
  inChannels: number;
  kernel: 3 | 5;
  expandedChannels: number;
  outChannels: number;
  useSe: boolean;
  useHardswish: boolean;
  stride: 1 | 2;
  dilation: 1 | 2;
}

export interface BackboneConfig {
  name: BackboneName;
  stemChannels: number;
  blocks: BlockConfig[];
  /** The 1x1 conv after the blocks: 6x the last block's output (960 Large, 576 Small). */
  lastConvChannels: number;
  lastChannel: number;
}

/** torchvision's `_make_divisible`: round to the nearest multiple of 8, never dropping more than 10%. */
export function makeDivisible(value: number, divisor = 8): number {
  let rounded = Math.max(divisor, Math.floor((value + divisor / 2) / divisor) * divisor);
  if (rounded < 0.9 * value) rounded += divisor;
  return rounded;
}

export function backboneConfig(name: BackboneName, options: BackboneOptions = {}): BackboneConfig {
  const { widthMult = 1, dilated = false, reducedTail = false } = options;
  const table = BACKBONE_TABLES[name];
  const adjust = (channels: number) => makeDivisible(channels * widthMult);
  const reduce = reducedTail ? 2 : 1;
  const tailRows = table.tail.map(([k, exp, out, se, nl, s], i): BneckRow => [k, Math.floor(exp / (i === 0 ? 1 : reduce)), Math.floor(out / reduce), se, nl, s]);
  const rows: { row: BneckRow; dilation: 1 | 2 }[] = [
    ...table.body.map((row) => ({ row, dilation: 1 as const })),
    ...tailRows.map((row) => ({ row, dilation: dilated ? (2 as const) : (1 as const) })),
  ];
  let inChannels = adjust(table.stemChannels);
  const blocks = rows.map(({ row: [kernel, exp, out, se, nl, stride], dilation }) => {
    const block: BlockConfig = {
      inChannels,
      kernel,
      expandedChannels: adjust(exp),
      outChannels: adjust(out),
      useSe: se,
      useHardswish: nl === 'HS',
      stride,
      dilation,
    };
    inChannels = block.outChannels;
    return block;
  });
  return {
    name,
    stemChannels: adjust(table.stemChannels),
    blocks,
    lastConvChannels: 6 * inChannels,
    lastChannel: adjust(Math.floor(table.lastChannel / reduce)),
  };
}

export type ModelTask = 'segmentation' | 'classification';

/** Whose code a network follows: torchvision's models, or fastseg's (ekzhang/fastseg) on geffnet's TF-port trunk. */
export type ArchFamily = 'torchvision' | 'fastseg';

export interface ArchDefinition {
  family: ArchFamily;
  task: ModelTask;
  backbone: BackboneName;
  /** Segmentation heads run on the dilated backbone (output stride 16). */
  dilated: boolean;
  /** The untrained model's class count: ImageNet's 1000 classes, Cityscapes' 19 train ids. */
  defaultNumClasses: number;
}

const ARCHITECTURE_TABLE = {
  mobilenet_v3_large: { family: 'torchvision', task: 'classification', backbone: 'mobilenet_v3_large', dilated: false, defaultNumClasses: 1000 },
  mobilenet_v3_small: { family: 'torchvision', task: 'classification', backbone: 'mobilenet_v3_small', dilated: false, defaultNumClasses: 1000 },
  lraspp_mobilenet_v3_large: { family: 'torchvision', task: 'segmentation', backbone: 'mobilenet_v3_large', dilated: true, defaultNumClasses: 19 },
  lraspp_mobilenet_v3_small: { family: 'torchvision', task: 'segmentation', backbone: 'mobilenet_v3_small', dilated: true, defaultNumClasses: 19 },
  // fastseg's own dilation pattern (output stride 8) lives in model/fastseg.ts; trained on Cityscapes' 19 classes.
  fastseg_mobilev3_large: { family: 'fastseg', task: 'segmentation', backbone: 'mobilenet_v3_large', dilated: false, defaultNumClasses: 19 },
  fastseg_mobilev3_small: { family: 'fastseg', task: 'segmentation', backbone: 'mobilenet_v3_small', dilated: false, defaultNumClasses: 19 },
} satisfies Record<string, ArchDefinition>;

/** The architectures cityseg builds: the keys of ARCHITECTURES. */
export type ArchName = keyof typeof ARCHITECTURE_TABLE;

export const ARCHITECTURES: Record<ArchName, ArchDefinition> = ARCHITECTURE_TABLE;

export const ARCH_NAMES = Object.keys(ARCHITECTURES) as ArchName[];

export function isArchName(name: string): name is ArchName {
  return Object.hasOwn(ARCHITECTURES, name);
}
