/** Test helpers for the segmentation tests: images made with sharp, and small PNG readers. */
import { crc32, deflateSync } from 'node:zlib';
import { decode as decodePng } from 'fast-png';
import sharp, { type Sharp } from 'sharp';
import type { RgbImage } from '../segmentation/types.js';

export type Rgb = [number, number, number];

/** An RgbImage whose pixel (x, y) is `colorAt(x, y)`. */
export function makeImage(width: number, height: number, colorAt: (x: number, y: number) => Rgb): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(colorAt(x, y), (y * width + x) * 3);
  return { data, width, height };
}

export function pixel(img: RgbImage, x: number, y: number): Rgb {
  const i = (y * img.width + x) * 3;
  return [img.data[i], img.data[i + 1], img.data[i + 2]];
}

/** sharp pipeline over an RgbImage. */
export function sharpOf(img: RgbImage): Sharp {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } });
}

export async function pngOf(img: RgbImage): Promise<Buffer> {
  return sharpOf(img).png().toBuffer();
}

/** A PNG chunk with its length and CRC. */
function pngChunk(type: string, body: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), body])) >>> 0);
  return Buffer.concat([head, body, crc]);
}

/**
 * A PNG whose IHDR announces width x height RGB 8-bit but whose IDAT holds only one row of zeros:
 * a header with (almost) no pixels, like a decompression bomb's.
 */
export function pngHeaderOnly(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // bit depth 8, colour type 2 (RGB), deflate, no filter, no interlace
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const oneRow = deflateSync(new Uint8Array(1 + Math.min(width, 64) * 3));
  return Buffer.concat([signature, pngChunk('IHDR', ihdr), pngChunk('IDAT', oneRow), pngChunk('IEND', new Uint8Array(0))]);
}

/** Decode a PNG without conversion: raw samples (palette indices for indexed PNGs), palette, depth. */
export function readPng(bytes: Uint8Array): {
  width: number;
  height: number;
  channels: number;
  depth: number;
  data: number[];
  palette?: number[][];
} {
  const png = decodePng(bytes);
  return {
    width: png.width,
    height: png.height,
    channels: png.channels,
    depth: png.depth,
    data: Array.from(png.data),
    palette: png.palette,
  };
}
