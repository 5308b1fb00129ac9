/** The files `cityseg segment` writes per image: one per format, named Cityscapes-style after the input. */
import path from 'node:path';
import { InvalidArgumentError } from 'commander';
import { encodeColor, encodeColorPalette, encodeLabelIds, encodeOverlay, encodeTrainIds } from '../segmentation/encode.js';
import type { LabelSet } from '../segmentation/labels/index.js';
import type { SegmentResult } from '../segmentation/pipeline.js';
import { classStats } from '../segmentation/stats.js';

export interface OutputContext {
  labelSet: LabelSet;
  /** Written into the JSON summary as `model`. */
  modelId: string;
  /** Overlay opacity of the colours, 0..1. */
  alpha: number;
  /** Add per-class COCO RLE masks to the JSON. */
  rle: boolean;
}

interface OutputFormat {
  /** Appended to the input's stem. */
  suffix: string;
  encode(result: SegmentResult, ctx: OutputContext): Promise<Uint8Array | string>;
}

/** The JSON body of `POST /v1/segment?format=json` (timings without the HTTP-only totalMs). */
function segmentationJson(result: SegmentResult, ctx: OutputContext): string {
  const { classMap } = result;
  const body = {
    model: ctx.modelId,
    width: classMap.width,
    height: classMap.height,
    inferenceSize: result.inferenceSize,
    ...(result.mode ? { inference: result.mode } : {}),
    timings: result.timings,
    classes: classStats(classMap, ctx.labelSet, { rle: ctx.rle }),
  };
  return `${JSON.stringify(body, null, 2)}\n`;
}

export const SEGMENT_OUTPUTS = {
  labelIds: { suffix: '_labelIds.png', encode: (r, ctx) => encodeLabelIds(r.classMap, ctx.labelSet) },
  trainIds: { suffix: '_trainIds.png', encode: (r) => encodeTrainIds(r.classMap) },
  color: { suffix: '_color.png', encode: (r, ctx) => encodeColor(r.classMap, ctx.labelSet) },
  colorPalette: { suffix: '_colorPalette.png', encode: async (r, ctx) => encodeColorPalette(r.classMap, ctx.labelSet) },
  overlay: {
    suffix: '_overlay.jpg',
    encode: (r, ctx) => encodeOverlay(r.image, r.classMap, ctx.labelSet, { alpha: ctx.alpha, format: 'jpeg' }),
  },
  json: { suffix: '.json', encode: async (r, ctx) => segmentationJson(r, ctx) },
} as const satisfies Record<string, OutputFormat>;

export type SegmentFormat = keyof typeof SEGMENT_OUTPUTS;

export const SEGMENT_FORMATS = Object.keys(SEGMENT_OUTPUTS) as SegmentFormat[];

function isSegmentFormat(name: string): name is SegmentFormat {
  return Object.hasOwn(SEGMENT_OUTPUTS, name);
}

/** `labelIds,color` → the formats, each once, in the order given (commander argument parser). */
export function parseFormats(text: string): SegmentFormat[] {
  const names = text.split(',').map((s) => s.trim());
  const unknown = names.filter((name) => !isSegmentFormat(name));
  if (unknown.length > 0 || names.length === 0) {
    throw new InvalidArgumentError(`unknown format ${unknown.map((n) => `'${n}'`).join(', ')}; expected a comma-separated list of ${SEGMENT_FORMATS.join(', ')}`);
  }
  return [...new Set(names as SegmentFormat[])];
}

export function outputPath(outDir: string, stem: string, format: SegmentFormat): string {
  return path.join(outDir, `${stem}${SEGMENT_OUTPUTS[format].suffix}`);
}
