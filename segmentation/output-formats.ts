/**
 * The one table of segmentation outputs, read by both surfaces: `POST /v1/segment?format=…` (server/inference.ts,
 * routes/segment.ts) and `cityseg segment --format …` (cli/segment-outputs.ts). Each format has a name, a content
 * type, a file suffix and an encoder, so a format added here exists on both, with identical bytes.
 */
import { encodeColor, encodeColorPalette, encodeLabelIds, encodeOverlay, encodeTrainIds, type OverlayFormat } from './encode.js';
import type { LabelSet } from './labels/types.js';
import type { SegmentResult } from './pipeline.js';
import { classStats } from './stats.js';

export type { OverlayFormat };

export const OVERLAY_FORMATS: readonly OverlayFormat[] = ['jpeg', 'png'];

/** What an encoder may read besides the result: the label set and the request's or command's options. */
export interface OutputOptions {
  labelSet: LabelSet;
  /** Written into the JSON body as `model`. */
  modelId: string;
  /** Written into the JSON body as `trained` where known (false: an untrained model, the answer meaningless). */
  trained?: boolean;
  /** Overlay opacity of the colours, 0..1. */
  alpha: number;
  overlayFormat: OverlayFormat;
  /** Add per-class COCO RLE masks to the JSON body. */
  rle: boolean;
  /** Milliseconds from a request's arrival to its answer: HTTP only, added to the JSON body's timings. */
  totalMs?: number;
}

/** The part of a segmentation result the encoders read. */
export type OutputInput = Pick<SegmentResult, 'image' | 'classMap' | 'inferenceSize' | 'timings' | 'mode'>;

export interface OutputFormat {
  /** One line for `--help` and the OpenAPI document. */
  description: string;
  contentType(opts: Pick<OutputOptions, 'overlayFormat'>): string;
  /** Appended to the input's stem by the CLI. */
  suffix(opts: Pick<OutputOptions, 'overlayFormat'>): string;
  encode(result: OutputInput, opts: OutputOptions): Promise<Buffer>;
}

/**
 * The JSON body of `POST /v1/segment?format=json` and of the CLI's `<stem>.json`: the model, the mask's size, the
 * size the network ran at, the stage timings (plus `totalMs` over HTTP) and the classes present by pixel count.
 */
export function segmentationBody(result: OutputInput, opts: Omit<OutputOptions, 'alpha' | 'overlayFormat'>) {
  const { classMap } = result;
  return {
    model: opts.modelId,
    ...(opts.trained === undefined ? {} : { trained: opts.trained }),
    width: classMap.width,
    height: classMap.height,
    inferenceSize: result.inferenceSize,
    ...(result.mode ? { inference: result.mode } : {}),
    timings: opts.totalMs === undefined ? { ...result.timings } : { ...result.timings, totalMs: opts.totalMs },
    classes: classStats(classMap, opts.labelSet, { rle: opts.rle }),
  };
}

const png = () => 'image/png';
const OVERLAY_FILES: Record<OverlayFormat, { contentType: string; suffix: string }> = {
  jpeg: { contentType: 'image/jpeg', suffix: '_overlay.jpg' },
  png: { contentType: 'image/png', suffix: '_overlay.png' },
};

export const OUTPUT_FORMATS = {
  labelIds: {
    description: '8-bit grey PNG of dataset label ids (Cityscapes id, what the official evaluation reads)',
    contentType: png,
    suffix: () => '_labelIds.png',
    encode: (r, o) => encodeLabelIds(r.classMap, o.labelSet),
  },
  trainIds: {
    description: '8-bit grey PNG of class indices (Cityscapes trainId)',
    contentType: png,
    suffix: () => '_trainIds.png',
    encode: (r) => encodeTrainIds(r.classMap),
  },
  color: {
    description: 'RGB PNG in the label set’s colours',
    contentType: png,
    suffix: () => '_color.png',
    encode: (r, o) => encodeColor(r.classMap, o.labelSet),
  },
  colorPalette: {
    description: 'indexed PNG: pixel values are class indices, the palette holds the colours',
    contentType: png,
    suffix: () => '_colorPalette.png',
    encode: async (r, o) => encodeColorPalette(r.classMap, o.labelSet),
  },
  overlay: {
    description: 'the colours blended over the image (JPEG or PNG, see overlayFormat)',
    contentType: (o) => OVERLAY_FILES[o.overlayFormat].contentType,
    suffix: (o) => OVERLAY_FILES[o.overlayFormat].suffix,
    encode: (r, o) => encodeOverlay(r.image, r.classMap, o.labelSet, { alpha: o.alpha, format: o.overlayFormat }),
  },
  json: {
    description: 'per-class pixel counts and shares, optionally COCO RLE masks',
    contentType: () => 'application/json',
    suffix: () => '.json',
    encode: async (r, o) => Buffer.from(`${JSON.stringify(segmentationBody(r, o))}\n`),
  },
} as const satisfies Record<string, OutputFormat>;

export type OutputFormatName = keyof typeof OUTPUT_FORMATS;

export const OUTPUT_FORMAT_NAMES = Object.keys(OUTPUT_FORMATS) as OutputFormatName[];

export function isOutputFormat(name: string): name is OutputFormatName {
  return Object.hasOwn(OUTPUT_FORMATS, name);
}

/** A result in the named format: the bytes and their content type. */
export async function encodeOutput(
  format: OutputFormatName,
  result: OutputInput,
  opts: OutputOptions,
): Promise<{ body: Buffer; contentType: string }> {
  const entry: OutputFormat = OUTPUT_FORMATS[format];
  return { body: await entry.encode(result, opts), contentType: entry.contentType(opts) };
}
