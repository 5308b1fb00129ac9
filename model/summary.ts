/**
 * A network's size, layer by layer, as the paper's Tables 1 and 2 and a per-layer table (operator, input and output
 * shape, parameters, multiply-adds), taken from the one forward walk (forward.ts) over operations that only track
 * shapes. Counting convention: one multiply-add per weight of a convolution or Linear per output position, BatchNorm
 * folded into the convolution (no cost of its own, its weight and bias counted as torchvision counts parameters),
 * biases, activations, pooling, the squeeze-and-excite gate, residual sums and resizes not counted (listed at 0).
 */
import { ARCHITECTURES, type ArchName } from './architectures.js';
import { minInputSide } from './fastseg.js';
import { forward, moduleOf, type NetworkOps } from './forward.js';
import { networkSpec, type Activation, type ConvSpec, type LinearSpec, type NetworkSpec } from './network-spec.js';

/** A value's shape without the batch axis: `[C, H, W]` for a feature map, `[F]` after flatten. */
export type Shape = readonly number[];

export interface LayerRow {
  /** torch module path (`features.4.block.1.0`, `classifier.cbr`). */
  module: string;
  /** `conv2d 3x3 s2 d1 dw`, `linear`, `add`, `multiply`, `avgpool`, `flatten`, `resize bilinear`, with its activation. */
  operator: string;
  input: Shape;
  output: Shape;
  parameters: number;
  multiplyAdds: number;
}

/** One row of the paper's Table 1 / 2: a stem, bneck, 1x1 conv, pool or classifier stage. */
export interface TableRow {
  /** `224²×3`: input height² (or height×width) × channels, as the paper writes it. */
  input: string;
  operator: string;
  /** Expansion size (bnecks). */
  expSize?: number;
  out: number;
  se: boolean;
  /** `HS` hard-swish, `RE` ReLU, or absent. */
  nl?: 'HS' | 'RE';
  stride: number;
}

export interface NetworkSummary {
  arch: ArchName;
  numClasses: number;
  input: { height: number; width: number };
  table: TableRow[];
  layers: LayerRow[];
  /** Equal to torchvision's `sum(p.numel() for p in model.parameters())`. */
  parameters: number;
  multiplyAdds: number;
}

const NL: Partial<Record<Activation, 'HS' | 'RE'>> = { hardswish: 'HS', relu: 'RE' };

function convOutput(c: ConvSpec, [, h, w]: Shape): Shape {
  // TensorFlow's 'same' gives ceil(in / stride) whatever the kernel; torch's symmetric pads follow its formula.
  const size = (n: number) => (c.samePadding ? Math.ceil(n / c.stride) : Math.floor((n + 2 * c.padding - c.dilation * (c.kernel - 1) - 1) / c.stride) + 1);
  return [c.outChannels, size(h), size(w)];
}

function convOperator(c: ConvSpec): string {
  const kind = c.groups > 1 ? ' dw' : '';
  const extras = [c.stride > 1 ? `s${c.stride}` : '', c.dilation > 1 ? `d${c.dilation}` : ''].filter(Boolean).join(' ');
  return `conv2d ${c.kernel}x${c.kernel}${kind}${extras ? ` ${extras}` : ''}${c.batchNorm ? '' : ' NBN'}${c.activation === 'linear' ? '' : ` ${c.activation}`}`;
}

/** The operations of forward.ts on shapes: each appends its row to `rows` and returns its output's shape. */
function shapeOps(rows: LayerRow[]): NetworkOps<Shape, ConvSpec, LinearSpec> {
  const record = (module: string, operator: string, input: Shape, output: Shape, parameters = 0, multiplyAdds = 0): Shape => {
    rows.push({ module, operator, input, output, parameters, multiplyAdds });
    return output;
  };
  return {
    conv(x, c) {
      const output = convOutput(c, x);
      const weights = c.outChannels * (c.inChannels / c.groups) * c.kernel * c.kernel;
      const parameters = weights + (c.bias ? c.outChannels : 0) + (c.batchNorm ? 2 * c.outChannels : 0);
      return record(moduleOf(c.weight).replace(/\.0$/, ''), convOperator(c), x, output, parameters, weights * output[1] * output[2]);
    },
    linear(x, l) {
      const operator = `linear${l.activation === 'linear' ? '' : ` ${l.activation}`}`;
      return record(moduleOf(l.weight), operator, x, [l.outFeatures], l.outFeatures * l.inFeatures + l.outFeatures, l.outFeatures * l.inFeatures);
    },
    add: (a, _b, scope) => record(scope, 'add', a, a),
    multiply: (a, _b, scope) => record(scope, 'multiply', a, a),
    globalAveragePool: (x, scope) => record(scope, 'avgpool', x, [x[0], 1, 1]),
    flatten: (x, scope) => record(scope, 'flatten', x, [x[0]]),
    resizeBilinear: (x, like, scope, alignCorners) => record(scope, `resize bilinear${alignCorners ? ' align-corners' : ''}`, x, [x[0], like[1], like[2]]),
    averagePool: (x, [kh, kw], [sh, sw], scope) => record(scope, `avgpool ${kh}x${kw} s${sh}x${sw}`, x, [x[0], Math.floor((x[1] - kh) / sh) + 1, Math.floor((x[2] - kw) / sw) + 1]),
    concatChannels: (a, b, scope) => record(scope, 'concat', a, [a[0] + b[0], a[1], a[2]]),
  };
}

const square = ([c, h, w]: Shape) => (h === w ? `${h}²×${c}` : `${h}×${w}×${c}`);

/** The paper's operator for a convolution or Linear row: `conv2d, 1x1` or `conv2d 1x1, NBN` (a Linear is one on 1x1). */
function paperConv(layer: LayerRow): Pick<TableRow, 'operator' | 'nl'> {
  const kernel = /conv2d (\d+x\d+)/.exec(layer.operator)?.[1] ?? '1x1';
  const batchNorm = layer.operator.startsWith('conv2d') && !layer.operator.includes('NBN');
  const nl = / (hardswish|relu)$/.exec(layer.operator)?.[1] as Activation | undefined;
  return { operator: batchNorm ? `conv2d, ${kernel}` : `conv2d ${kernel}, NBN`, ...(nl ? { nl: NL[nl] } : {}) };
}

/**
 * The paper's rows: the backbone's stages (stem, bnecks, last 1x1 conv), then the head's pool and weighted layers
 * (a head other than the paper's classifier names its module); sums, products and resizes are in `layers` only.
 */
function paperTable(spec: NetworkSpec, layers: LayerRow[]): TableRow[] {
  const rows: TableRow[] = [];
  const seen = new Set<string>();
  for (const layer of layers) {
    const stage = /^(features|backbone)\.(\d+)/.exec(layer.module);
    const input = layer.input.length === 3 ? square(layer.input) : `1²×${layer.input[0]}`;
    if (stage) {
      if (seen.has(stage[0])) continue;
      seen.add(stage[0]);
      const block = spec.backbone.blocks[Number(stage[2]) - 1];
      if (!block) {
        const conv = stage[2] === '0' ? spec.backbone.stem : spec.backbone.lastConv;
        rows.push({ input, ...paperConv(layer), out: layer.output[0], se: false, stride: conv.stride });
        continue;
      }
      const dw = block.depthwise;
      rows.push({ input, operator: `bneck, ${dw.kernel}x${dw.kernel}`, expSize: dw.outChannels, out: block.project.outChannels, se: block.se !== undefined, nl: NL[dw.activation], stride: dw.stride });
    } else if (layer.operator === 'avgpool') {
      rows.push({ input, operator: `pool, ${layer.input[1]}x${layer.input[2]}`, out: layer.input[0], se: false, stride: 1 });
    } else if (layer.parameters > 0) {
      const conv = paperConv(layer);
      const operator = spec.head.kind === 'classifier' ? conv.operator : `${conv.operator} (${layer.module})`;
      rows.push({ input, ...conv, operator, out: layer.output[0], se: false, stride: 1 });
    }
  }
  return rows;
}

/**
 * `arch` with `numClasses` outputs (default: the architecture's untrained count) on an `height` x `width` RGB input
 * (default the paper's 224x224), walked by forward.ts (LR-ASPP with torchvision's final upsample). Throws RangeError
 * for a class count or input size that is not a positive integer, or an input below the arch's minimum side (fastseg's 385).
 */
export function summarizeNetwork(arch: ArchName, input = { height: 224, width: 224 }, numClasses = ARCHITECTURES[arch].defaultNumClasses): NetworkSummary {
  if (![input.height, input.width].every((n) => Number.isInteger(n) && n >= 1)) {
    throw new RangeError(`input must be positive integers HEIGHTxWIDTH, got ${input.height}x${input.width}`);
  }
  const min = minInputSide(arch);
  if (Math.min(input.height, input.width) < min) {
    throw new RangeError(`${arch} needs an input of at least ${min} pixels a side, got ${input.height}x${input.width}`);
  }
  const spec = networkSpec(arch, { numClasses });
  const layers: LayerRow[] = [];
  forward(shapeOps(layers), spec, [3, input.height, input.width], { upsample: true });
  const sum = (pick: (layer: LayerRow) => number) => layers.reduce((total, layer) => total + pick(layer), 0);
  return {
    arch,
    numClasses: spec.numClasses,
    input,
    table: paperTable(spec, layers),
    layers,
    parameters: sum((layer) => layer.parameters),
    multiplyAdds: sum((layer) => layer.multiplyAdds),
  };
}
