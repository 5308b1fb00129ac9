/**
 * Reads label-id and instance-id PNGs the way the official script's PIL + numpy does: grey values
 * or palette indices as they are, never colour-converted. sharp reads grey PNGs (converting nothing:
 * its default sRGB output would scale 16-bit values); fast-png reads palette PNGs, since sharp
 * only returns their colours and PIL (so the script) uses their indices.
 */
import { readFile } from 'node:fs/promises';
import { decode as decodePng } from 'fast-png';
import sharp, { type Metadata } from 'sharp';
import { UnsupportedPngError } from './errors.js';
import type { InstanceIdImage, LabelIdImage } from './types.js';

interface GreyPixels {
  data: Uint8Array | Uint16Array;
  width: number;
  height: number;
}

/** An 8-bit grey or palette PNG of label ids (a prediction or `*_gtFine_labelIds.png`). */
export async function readLabelIdPng(file: string): Promise<LabelIdImage> {
  const pixels = await readSingleChannel(file);
  if (!(pixels.data instanceof Uint8Array)) {
    throw new UnsupportedPngError(file, 'is a 16-bit PNG; label ids must be 8-bit grey or palette indices');
  }
  return { data: pixels.data, width: pixels.width, height: pixels.height, source: file };
}

/** A `*_gtFine_instanceIds.png` (16-bit grey in Cityscapes; 8-bit is widened). */
export async function readInstanceIdPng(file: string): Promise<InstanceIdImage> {
  const pixels = await readSingleChannel(file);
  const data = pixels.data instanceof Uint16Array ? pixels.data : Uint16Array.from(pixels.data);
  return { data, width: pixels.width, height: pixels.height, source: file };
}

async function readSingleChannel(file: string): Promise<GreyPixels> {
  const bytes = await readFile(file);
  let meta: Metadata;
  try {
    meta = await sharp(bytes).metadata();
  } catch (error) {
    throw new UnsupportedPngError(file, `cannot be decoded (${(error as Error).message})`);
  }
  if (meta.format !== 'png') throw new UnsupportedPngError(file, `is ${meta.format}, not a PNG`);
  if (meta.isPalette) return readPaletteIndices(file, bytes);
  if (meta.channels !== 1) {
    throw new UnsupportedPngError(file, `has ${meta.channels} channels; expected one channel of ids (grey or palette)`);
  }
  const depth = GREY_DEPTHS[meta.bitsPerSample ?? 0];
  if (!depth) {
    throw new UnsupportedPngError(file, `is ${meta.bitsPerSample}-bit grey; expected 8-bit (labels) or 16-bit (instances)`);
  }
  const { data, info } = await sharp(bytes)
    .toColourspace(depth.colourspace)
    .raw({ depth: depth.raw })
    .toBuffer({ resolveWithObject: true });
  const values = depth.raw === 'ushort' ? copyUint16(data) : new Uint8Array(data.buffer, data.byteOffset, data.length);
  return { data: values, width: info.width, height: info.height };
}

/** How sharp must be told to hand back grey values unchanged, by PNG bit depth. */
const GREY_DEPTHS: Record<number, { colourspace: 'b-w' | 'grey16'; raw: 'uchar' | 'ushort' }> = {
  8: { colourspace: 'b-w', raw: 'uchar' },
  16: { colourspace: 'grey16', raw: 'ushort' },
};

/** sharp returns native-endian 16-bit samples; copy them so the view is aligned and owned. */
function copyUint16(buffer: Buffer): Uint16Array {
  const out = new Uint16Array(buffer.length / 2);
  new Uint8Array(out.buffer).set(buffer);
  return out;
}

function readPaletteIndices(file: string, bytes: Uint8Array): GreyPixels {
  const png = decodePng(bytes);
  if (png.channels !== 1 || !png.palette) {
    throw new UnsupportedPngError(file, `palette PNG decoded to ${png.channels} channels`);
  }
  return { data: unpackIndices(png.data as Uint8Array, png.width, png.height, png.depth), width: png.width, height: png.height };
}

/** Palette indices of 1, 2 or 4 bits are packed high bit first, each row starting on a byte. */
export function unpackIndices(packed: Uint8Array, width: number, height: number, bitDepth: number): Uint8Array {
  if (bitDepth === 8) return packed;
  const rowBytes = Math.ceil((width * bitDepth) / 8);
  const perByte = 8 / bitDepth;
  const mask = (1 << bitDepth) - 1;
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const byte = packed[y * rowBytes + Math.floor(x / perByte)];
      const shift = 8 - bitDepth * ((x % perByte) + 1);
      out[y * width + x] = (byte >> shift) & mask;
    }
  }
  return out;
}
