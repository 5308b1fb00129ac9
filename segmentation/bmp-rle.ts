/**
 * BI_RLE8 / BI_RLE4 pixel data of a Windows BMP, decoded with a bound: the work is at most one write per pixel of
 * the declared size plus one step per two input bytes, whatever the stream says. (bmp-ts's loop follows the stream's
 * line ends below the image and runs until the input ends: a 16 MB upload kept a worker busy for ~110 s.)
 */

/** Thrown for RLE data that is truncated or moves outside the declared size; the message says where. */
export class BmpRleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BmpRleError';
  }
}

/**
 * RLE codes → one palette index per pixel, `width * height` of them in the stream's row order (a bottom-up file's
 * bottom row first). The stream is read as PIL's BmpRleDecoder reads it (Pillow 9.4 BmpImagePlugin.py): pixels are
 * laid end to end; an encoded run is cut at the end of its row, the column being counted from the last line end or
 * delta (so rows must end with a line end, as encoders write them); a line end pads the row with index 0; a delta
 * skips `right + up * width` pixels (index 0; as the format defines it, where Pillow 9.4 misreads its two bytes); an
 * absolute run of n pixels takes ceil(n / 2) bytes for RLE4, n for RLE8, padded to 16 bits; the stream must cover
 * every pixel before its end of bitmap or its last byte. Unlike PIL, a code that would write or move past the last
 * pixel is an error rather than ignored data, so a stream cannot spend time beyond its image.
 *
 * Errors: BmpRleError when the data ends before covering the image, an absolute run is cut short, or a code would
 * move past `width * height`.
 */
export function decodeBmpRle(data: Uint8Array, width: number, height: number, rle4: boolean): Uint8Array {
  const total = width * height;
  const out = new Uint8Array(total);
  const pastEnd = (what: string, at: number) =>
    new BmpRleError(`RLE ${what} at byte ${at} runs past the declared ${width}x${height} image`);
  let p = 0;
  let x = 0;
  let i = 0;
  while (i + 1 < data.length) {
    const count = data[i];
    const code = data[i + 1];
    i += 2;
    if (count > 0) {
      if (p >= total) throw pastEnd('run', i - 2);
      const n = Math.max(0, Math.min(count, width - x));
      if (rle4) {
        const pair = [code >> 4, code & 0x0f];
        for (let k = 0; k < n; k++) out[p + k] = pair[k & 1];
      } else {
        out.fill(code, p, p + n);
      }
      p += n;
      x += n;
    } else if (code === 0) {
      p = Math.ceil(p / width) * width;
      x = 0;
    } else if (code === 1) {
      break;
    } else if (code === 2) {
      if (i + 1 >= data.length) break;
      const to = p + data[i] + data[i + 1] * width;
      if (to > total) throw pastEnd('delta', i - 2);
      p = to;
      x = p % width;
      i += 2;
    } else {
      const bytes = rle4 ? Math.ceil(code / 2) : code;
      if (i + bytes > data.length) throw new BmpRleError(`RLE absolute run at byte ${i - 2} is cut short: ${data.length - i} of ${bytes} bytes`);
      if (p + code > total) throw pastEnd('absolute run', i - 2);
      if (rle4) {
        for (let k = 0; k < code; k++) out[p + k] = k & 1 ? data[i + (k >> 1)] & 0x0f : data[i + (k >> 1)] >> 4;
      } else {
        out.set(data.subarray(i, i + code), p);
      }
      p += code;
      x += code;
      i += bytes + (bytes & 1);
    }
  }
  if (p < total) throw new BmpRleError(`RLE data ends after ${p} of the ${width}x${height} image's ${total} pixels`);
  return out;
}
