/** The files `cityseg segment` writes per image: one per format of the shared table, named Cityscapes-style. */
import path from 'node:path';
import { InvalidArgumentError } from 'commander';
import {
  isOutputFormat,
  OUTPUT_FORMAT_NAMES,
  OUTPUT_FORMATS,
  OVERLAY_FORMATS,
  type OutputFormatName,
  type OutputOptions,
  type OverlayFormat,
} from '../segmentation/output-formats.js';

/** The options every output of one run shares (label set, model id, overlay settings, RLE). */
export type OutputContext = OutputOptions;

export type SegmentFormat = OutputFormatName;

export const SEGMENT_FORMATS = OUTPUT_FORMAT_NAMES;

/** `labelIds,color` → the formats, each once, in the order given (commander argument parser). */
export function parseFormats(text: string): SegmentFormat[] {
  const names = text.split(',').map((s) => s.trim());
  const unknown = names.filter((name) => !isOutputFormat(name));
  if (unknown.length > 0 || names.length === 0) {
    throw new InvalidArgumentError(`unknown format ${unknown.map((n) => `'${n}'`).join(', ')}; expected a comma-separated list of ${SEGMENT_FORMATS.join(', ')}`);
  }
  return [...new Set(names as SegmentFormat[])];
}

/** `jpeg` | `png` (commander argument parser for --overlay-format). */
export function parseOverlayFormat(text: string): OverlayFormat {
  const format = OVERLAY_FORMATS.find((f) => f === text);
  if (!format) throw new InvalidArgumentError(`expected one of ${OVERLAY_FORMATS.join(', ')}, got '${text}'`);
  return format;
}

export function outputPath(outDir: string, stem: string, format: SegmentFormat, ctx: Pick<OutputContext, 'overlayFormat'>): string {
  return path.join(outDir, `${stem}${OUTPUT_FORMATS[format].suffix(ctx)}`);
}
