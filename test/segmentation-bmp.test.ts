/** BMP uploads (segmentation/bmp.ts): PIL-made files decode to PIL's pixels; limits and unsupported variants. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { decodeImage } from '../segmentation/decode.js';
import { ImageDecodeError, ImageTooLargeError } from '../segmentation/errors.js';
import { endEveryLine, rle8File } from './hostile-bmp.js';

const DIR = fileURLToPath(new URL('./fixtures/bmp/', import.meta.url));
const expected = JSON.parse(readFileSync(DIR + 'expected.json', 'utf8')) as Record<string, { width: number; height: number; rgb: number[] }>;
const LIMIT = { maxPixels: 1_000_000 };

/** A BITMAPINFOHEADER file of `width` x `height` at `bits` per pixel, pixel data zeroed (or cut to `dataBytes`). */
function bmpHeader(width: number, height: number, bits: number, opts: { compression?: number; infoSize?: number; dataBytes?: number } = {}): Buffer {
  const infoSize = opts.infoSize ?? 40;
  const row = Math.ceil((width * bits) / 32) * 4;
  const data = opts.dataBytes ?? row * Math.abs(height);
  const buf = Buffer.alloc(14 + infoSize + data);
  buf.write('BM', 0, 'latin1');
  buf.writeUInt32LE(buf.length, 2);
  buf.writeUInt32LE(14 + infoSize, 10);
  buf.writeUInt32LE(infoSize, 14);
  if (infoSize >= 40) {
    buf.writeInt32LE(width, 18);
    buf.writeInt32LE(height, 22);
    buf.writeUInt16LE(1, 26);
    buf.writeUInt16LE(bits, 28);
    buf.writeUInt32LE(opts.compression ?? 0, 30);
  }
  return buf;
}

function decodeError(code: string, pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof ImageDecodeError, `expected ImageDecodeError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    return true;
  };
}

describe('decodeImage: BMP', () => {
  for (const [file, want] of Object.entries(expected)) {
    it(`${file} (made by PIL) decodes to PIL's ${want.width}x${want.height} pixels`, async () => {
      const img = await decodeImage(readFileSync(DIR + file), LIMIT);
      assert.deepEqual([img.width, img.height], [want.width, want.height]);
      assert.deepEqual([...img.data], want.rgb);
    });
  }

  it('top-down and bottom-up files of one picture decode alike', async () => {
    const up = await decodeImage(readFileSync(DIR + 'rgb24.bmp'), LIMIT);
    const down = await decodeImage(readFileSync(DIR + 'rgb24_topdown.bmp'), LIMIT);
    assert.deepEqual(down.data, up.data);
  });

  it('32-bit alpha is read only where the header declares it (bitfields with an alpha mask), then flattened onto black', async () => {
    // V4 header (108 bytes), 2x1, pixels B, G, R, A: an opaque orange and a fully transparent blue.
    const v4 = (compression: number) => {
      const buf = bmpHeader(2, 1, 32, { infoSize: 108, compression });
      [0x00ff0000, 0x0000ff00, 0x000000ff, 0xff000000].forEach((mask, i) => buf.writeUInt32LE(mask >>> 0, 54 + 4 * i));
      buf.set([0, 128, 255, 255, 200, 0, 0, 0], 14 + 108);
      return buf;
    };
    const bitfields = await decodeImage(v4(3), LIMIT);
    assert.deepEqual([...bitfields.data], [255, 128, 0, 0, 0, 0]);
    // BI_RGB: the fourth byte is padding (PIL reads BGRX), whatever the header's alpha mask says.
    const rgb = await decodeImage(v4(0), LIMIT);
    assert.deepEqual([...rgb.data], [255, 128, 0, 0, 0, 200]);
  });

  it('checks the pixel limit on the header, before the pixel data (which is absent here)', async () => {
    const bomb = bmpHeader(50_000, -40_000, 24, { dataBytes: 0 });
    await assert.rejects(decodeImage(bomb, LIMIT), (err: unknown) => {
      assert.ok(err instanceof ImageTooLargeError);
      assert.deepEqual([err.width, err.height], [50_000, 40_000]);
      return true;
    });
  });

  it('names the BMP variants it does not decode', async () => {
    await assert.rejects(decodeImage(bmpHeader(4, 4, 16), LIMIT), decodeError('IMAGE_UNSUPPORTED_FORMAT', /bmp: 16 bits per pixel/));
    await assert.rejects(decodeImage(bmpHeader(4, 4, 24, { compression: 4 }), LIMIT), decodeError('IMAGE_UNSUPPORTED_FORMAT', /bmp: embedded JPEG/));
    await assert.rejects(decodeImage(bmpHeader(4, 4, 24, { infoSize: 12 }), LIMIT), decodeError('IMAGE_UNSUPPORTED_FORMAT', /bmp: OS\/2 bitmap header/));
    await assert.rejects(decodeImage(bmpHeader(4, 4, 24, { compression: 1 }), LIMIT), decodeError('IMAGE_UNSUPPORTED_FORMAT', /bmp: 24 bits per pixel with BI_RLE8/));
  });

  it('reports truncated pixel data and impossible sizes as corrupt', async () => {
    const whole = readFileSync(DIR + 'rgb24.bmp');
    await assert.rejects(decodeImage(whole.subarray(0, whole.length - 10), LIMIT), decodeError('IMAGE_CORRUPT', /bmp: pixel data is truncated: 270 of 280 bytes/));
    const farOffset = Buffer.from(whole);
    farOffset.writeUInt32LE(1e9, 10);
    await assert.rejects(
      decodeImage(farOffset, LIMIT),
      decodeError('IMAGE_CORRUPT', new RegExp(`^image is truncated or corrupt: bmp: pixel data offset 1000000000 is past the end of the file \\(${whole.length} bytes\\)$`)),
    );
    await assert.rejects(decodeImage(bmpHeader(0, 4, 24), LIMIT), decodeError('IMAGE_CORRUPT', /bmp: header size 0x4/));
    await assert.rejects(decodeImage(whole.subarray(0, 30), LIMIT), decodeError('IMAGE_CORRUPT', /bmp: header is truncated/));
    const rle = bmpHeader(4, 4, 8, { compression: 1, dataBytes: 2 });
    await assert.rejects(decodeImage(rle, LIMIT), decodeError('IMAGE_CORRUPT', /bmp: palette is truncated/));
  });

  it('RLE data is decoded within the declared size: a stream ending every line stops where it leaves the image', async () => {
    // 4.6 MB and 16 MB of runs, each ending its line: 100 lines fill 100x100, the 101st run (byte 400) is outside.
    for (const bytes of [4_600_000, 16_000_000]) {
      await assert.rejects(
        decodeImage(rle8File(100, 100, endEveryLine(bytes)), LIMIT),
        decodeError('IMAGE_CORRUPT', /^image is truncated or corrupt: bmp: RLE run at byte 400 runs past the declared 100x100 image$/),
      );
    }
  });

  it('RLE codes that move past the image, absolute runs cut short and streams that stop early are corrupt', async () => {
    const cases: [number[], RegExp][] = [
      [[4, 1, 0, 2, 0, 4], /RLE delta at byte 2 runs past the declared 4x4 image/],
      [[4, 1, 0, 0, 4, 1, 0, 0, 4, 1, 0, 0, 0, 6, 1, 2, 3, 4, 5, 6], /RLE absolute run at byte 12 runs past the declared 4x4 image/],
      [[4, 1, 0, 0, 0, 6, 1, 2], /RLE absolute run at byte 4 is cut short: 2 of 6 bytes/],
      [[4, 1, 0, 0, 0, 1, 4, 1], /RLE data ends after 4 of the 4x4 image's 16 pixels/],
      [[0, 0, 0, 0], /RLE data ends after 0 of the 4x4 image's 16 pixels/],
    ];
    for (const [stream, message] of cases) {
      await assert.rejects(decodeImage(rle8File(4, 4, Uint8Array.from(stream)), LIMIT), decodeError('IMAGE_CORRUPT', message));
    }
  });
});
