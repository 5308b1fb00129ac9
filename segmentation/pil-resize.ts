/**
 * PIL's `Image.resize(size, Image.BILINEAR)` on 8-bit RGB, to the bit: what torchvision's `Resize` does to a PIL
 * image, so our classifier (and any torchvision preset that resizes) sees the tensor torchvision builds.
 *
 * Follows Pillow's `src/libImaging/Resample.c` (`ImagingResample` → `precompute_coeffs`,
 * `normalize_coeffs_8bpc`, `ImagingResampleHorizontal_8bpc` / `ImagingResampleVertical_8bpc`):
 * - a triangle filter of support 1, widened by the scale factor when shrinking (so shrinking is antialiased);
 * - separable: a horizontal pass over only the source rows the vertical pass will read, then a vertical pass;
 * - each pass rounds to 8 bits: coefficients in fixed point with 22 fractional bits, a half added before the
 *   shift, the result clipped to 0..255.
 */
import { InvalidArgumentError } from './errors.js';
import type { RgbImage } from './types.js';

/** Fractional bits of the fixed-point coefficients: Pillow's PRECISION_BITS = 32 - 8 - 2. */
const PRECISION_BITS = 22;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

/** Pillow's `bilinear_filter`: the triangle 1 - |x| on (-1, 1). */
function triangle(x: number): number {
  const a = Math.abs(x);
  return a < 1 ? 1 - a : 0;
}

/** For each output position: the first source index, how many source samples, and their fixed-point weights. */
interface Coefficients {
  /** Weights per output position, `kernelSize` slots each (unused slots are 0). */
  weights: Int32Array;
  first: Int32Array;
  count: Int32Array;
  kernelSize: number;
}

/** Pillow's `precompute_coeffs` over the whole source (box 0..inSize) then `normalize_coeffs_8bpc`. */
function coefficients(inSize: number, outSize: number): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale; // the triangle's support (1) widened by the shrink factor
  const kernelSize = Math.ceil(support) * 2 + 1;
  const weights = new Int32Array(outSize * kernelSize);
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const taps = new Float64Array(kernelSize);
  const inverse = 1 / filterScale; // Pillow multiplies by the reciprocal: the last bit differs from dividing
  for (let xx = 0; xx < outSize; xx++) {
    const centre = (xx + 0.5) * scale;
    // C's (int) truncates toward zero; the clamps follow.
    const xmin = Math.max(0, Math.trunc(centre - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(centre + support + 0.5)) - xmin;
    let total = 0;
    for (let x = 0; x < xmax; x++) {
      taps[x] = triangle((x + xmin - centre + 0.5) * inverse);
      total += taps[x];
    }
    for (let x = 0; x < xmax; x++) {
      const k = total !== 0 ? taps[x] / total : taps[x];
      weights[xx * kernelSize + x] = k < 0 ? Math.trunc(-0.5 + k * ONE) : Math.trunc(0.5 + k * ONE);
    }
    first[xx] = xmin;
    count[xx] = Math.max(0, xmax);
  }
  return { weights, first, count, kernelSize };
}

/** Pillow's `clip8`: the fixed-point sum shifted down and clamped to 0..255. */
function clip8(sum: number): number {
  const v = sum >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Horizontal pass over source rows `rowFirst .. rowFirst + rows - 1`. */
function horizontal(src: RgbImage, outWidth: number, rowFirst: number, rows: number): Uint8Array {
  const { weights, first, count, kernelSize } = coefficients(src.width, outWidth);
  const out = new Uint8Array(outWidth * rows * 3);
  const inStride = src.width * 3;
  for (let yy = 0; yy < rows; yy++) {
    const rowStart = (yy + rowFirst) * inStride;
    for (let xx = 0; xx < outWidth; xx++) {
      let r = HALF;
      let g = HALF;
      let b = HALF;
      const k0 = xx * kernelSize;
      let p = rowStart + first[xx] * 3;
      for (let x = 0; x < count[xx]; x++, p += 3) {
        const k = weights[k0 + x];
        r += src.data[p] * k;
        g += src.data[p + 1] * k;
        b += src.data[p + 2] * k;
      }
      const o = (yy * outWidth + xx) * 3;
      out[o] = clip8(r);
      out[o + 1] = clip8(g);
      out[o + 2] = clip8(b);
    }
  }
  return out;
}

/** Vertical pass; `rowOffset` is the first source row present in `data` (the horizontal pass kept only those). */
function vertical(data: Uint8Array, width: number, coeffs: Coefficients, outHeight: number, rowOffset: number): Uint8Array {
  const { weights, first, count, kernelSize } = coeffs;
  const stride = width * 3;
  const out = new Uint8Array(width * outHeight * 3);
  for (let yy = 0; yy < outHeight; yy++) {
    const k0 = yy * kernelSize;
    const rowStart = (first[yy] - rowOffset) * stride;
    for (let i = 0; i < stride; i++) {
      let sum = HALF;
      let p = rowStart + i;
      for (let y = 0; y < count[yy]; y++, p += stride) sum += data[p] * weights[k0 + y];
      out[yy * stride + i] = clip8(sum);
    }
  }
  return out;
}

/**
 * Resize 8-bit RGB to `width` x `height` exactly as Pillow's `Image.resize((width, height), Image.BILINEAR)`
 * (Pillow ≥ 4.0, the `ImagingResample` two-pass resampler; torchvision's `Resize` on PIL images calls it).
 * Returns a new image (a copy when the size does not change). Errors: InvalidArgumentError for a target size that
 * is not a positive integer, or data that does not match the image's size.
 */
export function pilResizeBilinear(img: RgbImage, width: number, height: number): RgbImage {
  for (const [name, v] of [['width', width], ['height', height]] as const) {
    if (!(Number.isInteger(v) && v >= 1)) throw new InvalidArgumentError(`resize ${name} must be a positive integer, got ${v}`);
  }
  if (img.data.length !== img.width * img.height * 3) {
    throw new InvalidArgumentError(`RgbImage of ${img.width}x${img.height} needs ${img.width * img.height * 3} bytes, has ${img.data.length}`);
  }
  const needHorizontal = width !== img.width;
  const needVertical = height !== img.height;
  const verticalCoeffs = coefficients(img.height, height);
  // Source rows the vertical pass reads: the horizontal pass computes only these.
  const rowFirst = verticalCoeffs.first[0];
  const rowLast = verticalCoeffs.first[height - 1] + verticalCoeffs.count[height - 1];

  let data = img.data;
  let rowOffset = 0;
  if (needHorizontal) {
    data = needVertical ? horizontal(img, width, rowFirst, rowLast - rowFirst) : horizontal(img, width, 0, img.height);
    rowOffset = needVertical ? rowFirst : 0;
  }
  if (needVertical) data = vertical(data, width, verticalCoeffs, height, rowOffset);
  return { data: data === img.data ? new Uint8Array(img.data) : data, width, height };
}
