import { encodeOverlay, MASK_ENCODERS, type OverlayFormat } from '../segmentation/encode.js';
import type { LabelSet } from '../segmentation/labels/index.js';
import type { SegmentResult } from '../segmentation/pipeline.js';

export type { OverlayFormat };

/** The image formats of POST /v1/segment (json is the other answer). */
export const MASK_FORMATS = ['color', 'overlay', 'labelIds', 'trainIds'] as const;
export type MaskFormat = (typeof MASK_FORMATS)[number];

export interface EncodedMask {
  body: Buffer;
  contentType: string;
}

const OVERLAY_CONTENT_TYPES: Record<OverlayFormat, string> = { jpeg: 'image/jpeg', png: 'image/png' };

/** A segmentation result as the file the client asked for. */
export async function encodeMask(
  format: MaskFormat,
  result: Pick<SegmentResult, 'image' | 'classMap'>,
  labelSet: LabelSet,
  opts: { alpha: number; overlayFormat: OverlayFormat },
): Promise<EncodedMask> {
  if (format === 'overlay') {
    const body = await encodeOverlay(result.image, result.classMap, labelSet, { alpha: opts.alpha, format: opts.overlayFormat });
    return { body, contentType: OVERLAY_CONTENT_TYPES[opts.overlayFormat] };
  }
  const encoder = MASK_ENCODERS[format];
  return { body: await encoder.encode(result.classMap, labelSet), contentType: encoder.contentType };
}
