/**
 * Windows BMP uploads (libvips, hence sharp, has no BMP loader). The header is read here, so the size is checked
 * against the pixel limit before any pixel is decoded; the pixels are decoded by `bmp-ts` (the decoder jimp uses),
 * except RLE data, which bmp-rle.ts decodes within the declared size (bmp-ts's RLE loop is unbounded).
 * Accepted, with PIL's pixels: 1/4/8-bit palette (uncompressed or RLE), 24-bit, 32-bit with 8-bit channel masks
 * (the fourth byte is alpha only when the header declares an alpha mask, as PIL and browsers read it), bottom-up and
 * top-down. Refused by name: OS/2 headers, 16-bit (bmp-ts scales 5-bit channels differently from PIL), embedded
 * JPEG/PNG, other channel masks.
 */
import { decode as decodeBmpPixels } from 'bmp-ts';
import sharp from 'sharp';
import { BmpRleError, decodeBmpRle } from './bmp-rle.js';
import { ImageDecodeError, ImageTooLargeError } from './errors.js';
import type { RgbImage } from './types.js';

/** BITMAPINFOHEADER and its V2..V5 extensions, by size in bytes. */
const INFO_HEADER_SIZES: ReadonlySet<number> = new Set([40, 52, 56, 108, 124]);
const FILE_HEADER_SIZE = 14;
const COMPRESSION = { rgb: 0, rle8: 1, rle4: 2, bitfields: 3, jpeg: 4, png: 5, alphaBitfields: 6 } as const;
const COMPRESSION_NAMES = ['BI_RGB', 'BI_RLE8', 'BI_RLE4', 'BI_BITFIELDS', 'BI_JPEG', 'BI_PNG', 'BI_ALPHABITFIELDS'];

/** 'BM' and an info header size we know: sharp is not asked about these bytes. */
export function looksLikeBmp(bytes: Uint8Array): boolean {
  return bytes.length >= FILE_HEADER_SIZE + 4 && bytes[0] === 0x42 && bytes[1] === 0x4d;
}

function unsupported(detail: string): ImageDecodeError {
  return new ImageDecodeError('IMAGE_UNSUPPORTED_FORMAT', `image format is not supported: bmp: ${detail}`);
}

function corrupt(detail: string, cause?: unknown): ImageDecodeError {
  return new ImageDecodeError('IMAGE_CORRUPT', `image is truncated or corrupt: bmp: ${detail}`, { cause });
}

interface BmpHeader {
  infoSize: number;
  width: number;
  height: number;
  topDown: boolean;
  bitsPerPixel: number;
  compression: number;
  pixelOffset: number;
}

function readHeader(bytes: Uint8Array): BmpHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const infoSize = view.getUint32(FILE_HEADER_SIZE, true);
  if (infoSize === 12 || infoSize === 64) throw unsupported(`OS/2 bitmap header (${infoSize} bytes)`);
  if (!INFO_HEADER_SIZES.has(infoSize)) throw corrupt(`unknown info header size ${infoSize}`);
  if (bytes.length < FILE_HEADER_SIZE + infoSize) throw corrupt('header is truncated');
  const signedHeight = view.getInt32(22, true);
  return {
    infoSize,
    width: view.getInt32(18, true),
    height: Math.abs(signedHeight),
    topDown: signedHeight < 0,
    bitsPerPixel: view.getUint16(28, true),
    compression: view.getUint32(30, true),
    pixelOffset: view.getUint32(10, true),
  };
}

function checkEncoding({ bitsPerPixel: bpp, compression }: BmpHeader): void {
  const name = COMPRESSION_NAMES[compression] ?? `compression ${compression}`;
  if (compression === COMPRESSION.jpeg || compression === COMPRESSION.png) throw unsupported(`embedded ${name.slice(3)}`);
  if (bpp === 16) throw unsupported('16 bits per pixel');
  const fits =
    (compression === COMPRESSION.rgb && [1, 4, 8, 24, 32].includes(bpp)) ||
    (compression === COMPRESSION.rle8 && bpp === 8) ||
    (compression === COMPRESSION.rle4 && bpp === 4) ||
    ((compression === COMPRESSION.bitfields || compression === COMPRESSION.alphaBitfields) && bpp === 32);
  if (!fits) throw unsupported(`${bpp} bits per pixel with ${name}`);
}

/**
 * The 32-bit channel masks bmp-ts applies (R, G, B, A), read where it reads them: after the info header when it is
 * longer than 40 bytes or the compression is a bitfields one; else the de-facto defaults.
 */
function channelMasks(bytes: Uint8Array, header: BmpHeader): [number, number, number, number] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bitfields = header.compression === COMPRESSION.bitfields || header.compression === COMPRESSION.alphaBitfields;
  const masks: [number, number, number, number] = [0xff0000, 0xff00, 0xff, 0];
  const at = FILE_HEADER_SIZE + 40;
  if (header.infoSize > 40 || bitfields) {
    if (bytes.length < at + 12) throw corrupt('channel masks are truncated');
    for (let i = 0; i < 3; i++) masks[i] = view.getUint32(at + 4 * i, true);
  }
  if (header.infoSize > 52 || header.compression === COMPRESSION.alphaBitfields) {
    if (bytes.length < at + 16) throw corrupt('alpha mask is truncated');
    masks[3] = view.getUint32(at + 12, true);
  }
  return masks;
}

/** A channel mask bmp-ts scales exactly: 8 contiguous bits (or none, for alpha). */
function isByteMask(mask: number, optional: boolean): boolean {
  if (mask === 0) return optional;
  for (let shift = 0; shift <= 24; shift += 8) if (mask >>> 0 === (0xff << shift) >>> 0) return true;
  return false;
}

/** The header, with the size checked against `maxPixels` and the encoding against what we decode. */
function checkedHeader(bytes: Uint8Array, maxPixels: number): BmpHeader {
  const header = readHeader(bytes);
  const { width, height } = header;
  if (!(width > 0 && height > 0)) throw corrupt(`header size ${width}x${header.topDown ? -height : height}`);
  if (width * height > maxPixels) throw new ImageTooLargeError(width, height, maxPixels);
  checkEncoding(header);
  return header;
}

/**
 * An RLE8/RLE4 file's pixels as RGB, top row first. The palette follows the info header (BGRX entries, the header's
 * colour count or 2^bits of them); an index past the palette reads as grey (i, i, i), as PIL pads palettes.
 */
function decodeRlePixels(bytes: Uint8Array, header: BmpHeader): RgbImage {
  const { width, height } = header;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const declared = view.getUint32(FILE_HEADER_SIZE + 32, true);
  const colors = declared === 0 ? 1 << header.bitsPerPixel : declared;
  const paletteAt = FILE_HEADER_SIZE + header.infoSize;
  // PIL's bound on the colour count; indices reach 255 at most, so no more entries are read.
  if (colors > 65536) throw corrupt(`palette of ${colors} colours`);
  const entries = Math.min(colors, 256);
  if (paletteAt + 4 * entries > bytes.length) throw corrupt('palette is truncated');
  if (header.pixelOffset > bytes.length) throw corrupt('pixel data offset is past the end of the file');
  let indices: Uint8Array;
  try {
    indices = decodeBmpRle(bytes.subarray(header.pixelOffset), width, height, header.compression === COMPRESSION.rle4);
  } catch (err) {
    if (err instanceof BmpRleError) throw corrupt(err.message, err);
    throw err;
  }
  const lut = new Uint8Array(256 * 3);
  for (let c = 0; c < 256; c++) {
    const at = paletteAt + 4 * c;
    const rgb = c < entries ? [bytes[at + 2], bytes[at + 1], bytes[at]] : [c, c, c];
    lut.set(rgb, 3 * c);
  }
  const data = new Uint8Array(width * height * 3);
  for (let row = 0; row < height; row++) {
    // The stream's rows run bottom-up unless the header's height is negative.
    const from = (header.topDown ? row : height - 1 - row) * width;
    for (let x = 0, q = row * width * 3; x < width; x++, q += 3) {
      const c = 3 * indices[from + x];
      data[q] = lut[c];
      data[q + 1] = lut[c + 1];
      data[q + 2] = lut[c + 2];
    }
  }
  return { data, width, height };
}

/** The BMP's size from its header alone (the same errors as decodeBmp's header checks). */
export function probeBmp(bytes: Uint8Array, maxPixels: number): { format: 'bmp'; width: number; height: number } {
  const { width, height } = checkedHeader(bytes, maxPixels);
  return { format: 'bmp', width, height };
}

/**
 * BMP bytes → 8-bit RGB, alpha flattened onto black like the other formats. Errors: ImageTooLargeError (checked
 * from the header, before decoding), ImageDecodeError IMAGE_UNSUPPORTED_FORMAT (a BMP variant named in the
 * message) or IMAGE_CORRUPT (truncated or inconsistent data).
 */
export async function decodeBmp(bytes: Uint8Array, maxPixels: number): Promise<RgbImage> {
  const header = checkedHeader(bytes, maxPixels);
  const { width, height } = header;
  if (header.compression === COMPRESSION.rle8 || header.compression === COMPRESSION.rle4) return decodeRlePixels(bytes, header);
  const masks = header.bitsPerPixel === 32 ? channelMasks(bytes, header) : undefined;
  if (masks && !(isByteMask(masks[0], false) && isByteMask(masks[1], false) && isByteMask(masks[2], false) && isByteMask(masks[3], true))) {
    throw unsupported('32-bit channel masks other than one byte per channel');
  }
  if (header.compression === COMPRESSION.rgb || header.compression >= COMPRESSION.bitfields) {
    const rowBytes = Math.ceil((width * header.bitsPerPixel) / 32) * 4;
    // An offset past the file's end is its own fault: "truncated" would count negative bytes.
    if (header.pixelOffset > bytes.length) {
      throw corrupt(`pixel data offset ${header.pixelOffset} is past the end of the file (${bytes.length} bytes)`);
    }
    if (header.pixelOffset + rowBytes * height > bytes.length) {
      throw corrupt(`pixel data is truncated: ${bytes.length - header.pixelOffset} of ${rowBytes * height} bytes`);
    }
  }

  let decoded: ReturnType<typeof decodeBmpPixels>;
  try {
    decoded = decodeBmpPixels(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (err) {
    throw corrupt(err instanceof Error ? err.message : String(err), err);
  }

  // bmp-ts writes every depth as A, B, G, R bytes per pixel.
  const n = width * height;
  // PIL (and browsers) read the fourth byte of BI_RGB pixels as padding; alpha needs a bitfields alpha mask.
  const hasAlpha = masks !== undefined && masks[3] !== 0 && header.compression !== COMPRESSION.rgb;
  const channels = hasAlpha ? 4 : 3;
  const out = new Uint8Array(n * channels);
  for (let p = 0, q = 0; p < n; p++, q += channels) {
    const s = p * 4;
    out[q] = decoded.data[s + 3];
    out[q + 1] = decoded.data[s + 2];
    out[q + 2] = decoded.data[s + 1];
    if (hasAlpha) out[q + 3] = decoded.data[s];
  }
  if (!hasAlpha) return { data: out, width, height };
  // The same flattening as every other format's (decode.ts: sharp's flatten onto black).
  const flat = await sharp(out, { raw: { width, height, channels: 4 } }).flatten({ background: { r: 0, g: 0, b: 0 } }).raw().toBuffer();
  return { data: new Uint8Array(flat.buffer, flat.byteOffset, flat.length), width, height };
}
