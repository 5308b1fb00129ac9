import sharp, { type Metadata } from 'sharp';
import { decodeBmp, looksLikeBmp, probeBmp } from './bmp.js';
import { ImageDecodeError, ImageTooLargeError, type ImageDecodeErrorCode } from './errors.js';
import type { RgbImage } from './types.js';

/** The decoded-size limit for images the caller chose (a file on the command line, the package API), not uploads: sharp's own. */
export const CALLER_CHOSEN_MAX_PIXELS = 2 ** 31;

export interface DecodeOptions {
  /** Largest accepted width x height (after reading the header, before any pixel is decoded). */
  maxPixels: number;
  /** The header as the caller already read it (probeImage with the same maxPixels): not read a second time. */
  probe?: ImageProbe;
}

/**
 * Raster formats we accept, by sharp's decoder name. SVG (a vector document that librsvg renders at
 * any size) and the rest of libvips' loaders are refused as unsupported. `heif` covers AVIF; HEIC
 * (HEVC) is refused by this sharp build's libheif and reported as unsupported when decoding.
 */
const ACCEPTED_FORMATS: ReadonlySet<string> = new Set(['jpeg', 'png', 'webp', 'tiff', 'gif', 'heif']);
/** What a 415 lists as accepted: sharp's formats plus BMP, which bmp.ts decodes. */
const ACCEPTED_NAMES = [...ACCEPTED_FORMATS, 'bmp'].join(', ');

/** sharp/libvips error messages → our error code, first match wins. */
const SHARP_ERROR_CODES: ReadonlyArray<[RegExp, ImageDecodeErrorCode]> = [
  [/unsupported image format/i, 'IMAGE_NOT_RECOGNISED'],
  [/buffer is empty/i, 'IMAGE_EMPTY'],
  [/(unsupported|not supported|no decoder|compression format has not been built in)/i, 'IMAGE_UNSUPPORTED_FORMAT'],
];

const SUMMARY: Record<ImageDecodeErrorCode, string> = {
  IMAGE_EMPTY: 'image is empty (0 bytes)',
  IMAGE_NOT_RECOGNISED: 'data is not an image in any recognised format',
  IMAGE_UNSUPPORTED_FORMAT: 'image format is not supported',
  IMAGE_CORRUPT: 'image is truncated or corrupt',
};

function describe(code: ImageDecodeErrorCode, detail: string): string {
  return detail ? `${SUMMARY[code]}: ${detail}` : SUMMARY[code];
}

function decodeErrorFrom(err: unknown, format?: string): ImageDecodeError {
  // libvips repeats lines; keep each once.
  const message = [...new Set((err instanceof Error ? err.message : String(err)).split('\n').filter(Boolean))].join('; ');
  const code = SHARP_ERROR_CODES.find(([pattern]) => pattern.test(message))?.[1] ?? 'IMAGE_CORRUPT';
  const detail = format ? `${format}: ${message}` : message;
  return new ImageDecodeError(code, describe(code, detail), { cause: err });
}

/** What the header says about an upload, before any pixel is decoded. */
export interface ImageProbe {
  /** sharp's decoder name (jpeg, png, webp, tiff, gif, heif), or bmp. */
  format: string;
  /** Size after EXIF orientation: what decodeImage returns and the mask's size. */
  width: number;
  height: number;
}

/**
 * Reads the image header only (sharp's metadata; no pixel decoding): the format must be an accepted raster
 * format and the pixel count within `maxPixels`. Throws ImageDecodeError (empty, unrecognised, unsupported,
 * no size) or ImageTooLargeError. BMP, which sharp cannot read, has its header read by bmp.ts.
 */
export async function probeImage(bytes: Uint8Array, opts: DecodeOptions): Promise<ImageProbe> {
  if (bytes.length === 0) throw new ImageDecodeError('IMAGE_EMPTY', describe('IMAGE_EMPTY', ''));
  if (looksLikeBmp(bytes)) return probeBmp(bytes, opts.maxPixels);

  let meta: Metadata;
  try {
    // Header only: no limit here so a bomb reports its real size instead of sharp's generic message.
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw decodeErrorFrom(err);
  }
  if (!ACCEPTED_FORMATS.has(meta.format)) {
    throw new ImageDecodeError(
      'IMAGE_UNSUPPORTED_FORMAT',
      describe('IMAGE_UNSUPPORTED_FORMAT', `${meta.format} (accepted: ${ACCEPTED_NAMES})`),
    );
  }
  if (!(meta.width > 0 && meta.height > 0)) {
    throw new ImageDecodeError('IMAGE_CORRUPT', describe('IMAGE_CORRUPT', `${meta.format} header has no size`));
  }
  if (meta.width * meta.height > opts.maxPixels) {
    throw new ImageTooLargeError(meta.width, meta.height, opts.maxPixels);
  }
  // EXIF orientations 5-8 turn the image by 90 degrees.
  const swap = (meta.orientation ?? 1) >= 5;
  return { format: meta.format, width: swap ? meta.height : meta.width, height: swap ? meta.width : meta.height };
}

/**
 * Decode any accepted upload to 8-bit sRGB, oriented as its EXIF tag says: alpha flattened onto
 * black, grey expanded to RGB, 16-bit reduced to 8-bit (libvips keeps the high byte), palette
 * expanded, animations reduced to their first frame. The pixel limit is checked on the header
 * before decoding and again by sharp's own `limitInputPixels`.
 */
export async function decodeImage(bytes: Uint8Array, opts: DecodeOptions): Promise<RgbImage> {
  const meta = opts.probe ?? (await probeImage(bytes, opts));
  if (meta.format === 'bmp') return decodeBmp(bytes, opts.maxPixels);

  try {
    const { data, info } = await sharp(bytes, {
      limitInputPixels: opts.maxPixels,
      // 'error' refuses truncated and broken pixel data but tolerates warnings common in camera JPEGs.
      failOn: 'error',
      pages: 1,
      page: 0,
    })
      .autoOrient()
      .flatten({ background: { r: 0, g: 0, b: 0 } })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) {
      throw new ImageDecodeError(
        'IMAGE_UNSUPPORTED_FORMAT',
        describe('IMAGE_UNSUPPORTED_FORMAT', `${meta.format} decoded to ${info.channels} channels, not RGB`),
      );
    }
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.length),
      width: info.width,
      height: info.height,
    };
  } catch (err) {
    if (err instanceof ImageDecodeError) throw err;
    throw decodeErrorFrom(err, meta.format);
  }
}
