import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { decodeImage } from '../segmentation/decode.js';
import { ImageDecodeError, ImageTooLargeError } from '../segmentation/errors.js';
import { makeImage, pixel, pngHeaderOnly, pngOf, sharpOf } from './segmentation-helpers.js';

const LIMIT = { maxPixels: 1_000_000 };
/** 7x5 image of 35 distinct colours (few enough for GIF's palette to keep them exact). */
const gradient = makeImage(7, 5, (x, y) => [x * 30, y * 50, (x * 7 + y * 11) % 256]);

function assertDecodeError(code: string, pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof ImageDecodeError, `expected ImageDecodeError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    return true;
  };
}

describe('decodeImage: formats, exact pixels', () => {
  const lossless: Array<[string, () => Promise<Buffer>]> = [
    ['PNG', () => sharpOf(gradient).png().toBuffer()],
    ['WebP (lossless)', () => sharpOf(gradient).webp({ lossless: true }).toBuffer()],
    ['TIFF (LZW)', () => sharpOf(gradient).tiff({ compression: 'lzw' }).toBuffer()],
    ['GIF', () => sharpOf(gradient).gif().toBuffer()],
    ['AVIF (lossless)', () => sharpOf(gradient).avif({ lossless: true }).toBuffer()],
  ];
  for (const [name, encode] of lossless) {
    it(`${name} decodes to the exact 7x5 RGB pixels`, async () => {
      const img = await decodeImage(await encode(), LIMIT);
      assert.equal(img.width, 7);
      assert.equal(img.height, 5);
      assert.deepEqual(Array.from(img.data), Array.from(gradient.data));
    });
  }

  it('JPEG (q100, 4:4:4) of a flat colour decodes to that colour', async () => {
    const flat = makeImage(16, 16, () => [200, 100, 50]);
    const jpeg = await sharpOf(flat).jpeg({ quality: 100, chromaSubsampling: '4:4:4' }).toBuffer();
    const img = await decodeImage(jpeg, LIMIT);
    assert.deepEqual(Array.from(img.data), Array.from(flat.data));
  });

  it('16-bit RGB PNG keeps the high byte: 65535 → 255, 32768 → 128, 1000 → 3', async () => {
    const samples = new Uint16Array([65535, 0, 0, 0, 32768, 0, 0, 0, 1000, 65535, 65535, 65535]);
    const png = await sharp(samples, { raw: { width: 2, height: 2, channels: 3 } }).toColourspace('rgb16').png().toBuffer();
    assert.equal((await sharp(png).metadata()).depth, 'ushort');
    const img = await decodeImage(png, LIMIT);
    assert.deepEqual(Array.from(img.data), [255, 0, 0, 0, 128, 0, 0, 0, 3, 255, 255, 255]);
  });

  it('grey PNGs (8- and 16-bit) become RGB triplets', async () => {
    const grey8 = await sharp(Buffer.from([0, 100, 200, 255]), { raw: { width: 2, height: 2, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toBuffer();
    assert.equal((await sharp(grey8).metadata()).channels, 1);
    assert.deepEqual(Array.from((await decodeImage(grey8, LIMIT)).data), [0, 0, 0, 100, 100, 100, 200, 200, 200, 255, 255, 255]);
    const grey16 = await sharp(new Uint16Array([0, 65535, 32768, 257]), { raw: { width: 2, height: 2, channels: 1 } })
      .toColourspace('grey16')
      .png()
      .toBuffer();
    assert.deepEqual(Array.from((await decodeImage(grey16, LIMIT)).data), [0, 0, 0, 255, 255, 255, 128, 128, 128, 1, 1, 1]);
  });

  it('palette PNG expands to its colours', async () => {
    const img = makeImage(2, 2, (x, y) => ([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 0, 0]] as const)[y * 2 + x] as [number, number, number]);
    const png = await sharpOf(img).png({ palette: true }).toBuffer();
    assert.equal((await sharp(png).metadata()).isPalette, true);
    assert.deepEqual(Array.from((await decodeImage(png, LIMIT)).data), Array.from(img.data));
  });

  it('alpha is flattened onto black: a=255 keeps, a=128 halves (200,100,50 → 100,50,25), a=0 is black', async () => {
    const rgba = Buffer.from([200, 100, 50, 255, 200, 100, 50, 128, 200, 100, 50, 0]);
    const png = await sharp(rgba, { raw: { width: 3, height: 1, channels: 4 } }).png().toBuffer();
    assert.deepEqual(Array.from((await decodeImage(png, LIMIT)).data), [200, 100, 50, 100, 50, 25, 0, 0, 0]);
  });

  it('animated GIF: only the first frame', async () => {
    // Two 2x2 frames stacked: grey 200, then grey 50.
    const frames = Buffer.alloc(2 * 4 * 3);
    frames.fill(200, 0, 12);
    frames.fill(50, 12);
    const gif = await sharp(frames, { raw: { width: 2, height: 4, channels: 3, pageHeight: 2 } }).gif().toBuffer();
    assert.equal((await sharp(gif).metadata()).pages, 2);
    const img = await decodeImage(gif, LIMIT);
    assert.deepEqual([img.width, img.height], [2, 2]);
    assert.deepEqual(Array.from(img.data), new Array(12).fill(200));
  });

  it('EXIF orientation 6 rotates 90° clockwise: 64x32 (left red, right blue) → 32x64 (top red, bottom blue)', async () => {
    const img = makeImage(64, 32, (x) => (x < 32 ? [255, 0, 0] : [0, 0, 255]));
    const jpeg = await sharpOf(img).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    assert.equal((await sharp(jpeg).metadata()).orientation, 6);
    const out = await decodeImage(jpeg, LIMIT);
    assert.deepEqual([out.width, out.height], [32, 64]);
    const [r1, , b1] = pixel(out, 16, 8);
    const [r2, , b2] = pixel(out, 16, 56);
    assert.ok(r1 > 240 && b1 < 15, `top should be red, got ${pixel(out, 16, 8)}`);
    assert.ok(r2 < 15 && b2 > 240, `bottom should be blue, got ${pixel(out, 16, 56)}`);
  });
});

describe('decodeImage: errors', () => {
  it('empty input → IMAGE_EMPTY', async () => {
    await assert.rejects(decodeImage(new Uint8Array(0), LIMIT), assertDecodeError('IMAGE_EMPTY', /empty/));
  });

  it('bytes that are no image → IMAGE_NOT_RECOGNISED', async () => {
    await assert.rejects(
      decodeImage(Buffer.from('hello, this is plain text'), LIMIT),
      assertDecodeError('IMAGE_NOT_RECOGNISED', /not an image/),
    );
  });

  it('truncated PNG and JPEG → IMAGE_CORRUPT naming the format', async () => {
    const png = await pngOf(gradient);
    await assert.rejects(decodeImage(png.subarray(0, png.length - 20), LIMIT), assertDecodeError('IMAGE_CORRUPT', /truncated or corrupt: png/));
    const jpeg = await sharpOf(makeImage(32, 32, (x, y) => [x * 8, y * 8, 0])).jpeg().toBuffer();
    await assert.rejects(decodeImage(jpeg.subarray(0, jpeg.length - 100), LIMIT), assertDecodeError('IMAGE_CORRUPT', /truncated or corrupt: .*JPEG/));
  });

  it('SVG (recognised, not a raster upload we accept) → IMAGE_UNSUPPORTED_FORMAT', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>');
    await assert.rejects(decodeImage(svg, LIMIT), assertDecodeError('IMAGE_UNSUPPORTED_FORMAT', /not supported: svg/));
  });

  it('an image over maxPixels → ImageTooLargeError with its size and the limit', async () => {
    const png = await pngOf(makeImage(100, 100, () => [1, 2, 3]));
    await assert.rejects(decodeImage(png, { maxPixels: 9_999 }), (err: unknown) => {
      assert.ok(err instanceof ImageTooLargeError);
      assert.equal(err.code, 'IMAGE_TOO_LARGE');
      assert.deepEqual([err.width, err.height, err.maxPixels], [100, 100, 9_999]);
      assert.equal(err.message, 'image is 100x100 = 10000 pixels, over the limit of 9999 pixels');
      return true;
    });
    assert.equal((await decodeImage(png, { maxPixels: 10_000 })).width, 100);
  });

  it('a PNG header claiming 30000x30000 is refused from the header, before any decoding', async () => {
    // The file holds one row of pixels: decoding would fail as truncated, so ImageTooLargeError
    // proves the refusal came from the header alone.
    const bomb = pngHeaderOnly(30_000, 30_000);
    assert.ok(bomb.length < 100, `${bomb.length} bytes`);
    await assert.rejects(decodeImage(bomb, { maxPixels: 50_000_000 }), (err: unknown) => {
      assert.ok(err instanceof ImageTooLargeError);
      assert.match(err.message, /30000x30000 = 900000000 pixels, over the limit of 50000000/);
      return true;
    });
    // Within the limit, the same kind of file is reported as truncated.
    await assert.rejects(decodeImage(pngHeaderOnly(10, 10), LIMIT), assertDecodeError('IMAGE_CORRUPT', /png/));
  });
});
