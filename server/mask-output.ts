import { encodeOutput, OUTPUT_FORMAT_NAMES, OVERLAY_FORMATS, type OutputFormatName, type OutputInput, type OutputOptions } from '../segmentation/output-formats.js';

export type { OverlayFormat } from '../segmentation/output-formats.js';

/** The answers of POST /v1/segment: every format of the shared table (segmentation/output-formats.ts). */
export const MASK_FORMATS = OUTPUT_FORMAT_NAMES;
export type MaskFormat = OutputFormatName;
export { OVERLAY_FORMATS };

export interface EncodedMask {
  body: Buffer;
  contentType: string;
}

/** A segmentation result as the body the client asked for (the same bytes `cityseg segment` writes). */
export function encodeMask(format: MaskFormat, result: OutputInput, opts: OutputOptions): Promise<EncodedMask> {
  return encodeOutput(format, result, opts);
}
