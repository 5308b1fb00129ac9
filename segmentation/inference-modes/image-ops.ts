/** The pixel operations the inference modes need on decoded 8-bit RGB images and NHWC logits. */
import type { Float32Tensor } from '../../model/engines/engine.js';
import type { RgbImage } from '../types.js';

/** The image mirrored left-right (torch's `flip(dims=(3,))` on NCHW). */
export function flipRgb(img: RgbImage): RgbImage {
  const { width, height } = img;
  const data = new Uint8Array(img.data.length);
  for (let y = 0; y < height; y++) {
    const row = y * width * 3;
    for (let x = 0; x < width; x++) {
      const from = row + x * 3;
      const to = row + (width - 1 - x) * 3;
      data[to] = img.data[from];
      data[to + 1] = img.data[from + 1];
      data[to + 2] = img.data[from + 2];
    }
  }
  return { data, width, height };
}

/** NHWC `[1, H, W, C]` mirrored left-right, in place (undoes the flip of the image the logits came from). */
export function flipNhwcInPlace(tensor: Float32Tensor): Float32Tensor {
  const [, height, width, c] = tensor.shape;
  const { data } = tensor;
  const pixel = new Float32Array(c);
  for (let y = 0; y < height; y++) {
    const row = y * width * c;
    for (let x = 0; x < Math.floor(width / 2); x++) {
      const a = row + x * c;
      const b = row + (width - 1 - x) * c;
      pixel.set(data.subarray(a, a + c));
      data.copyWithin(a, b, b + c);
      data.set(pixel, b);
    }
  }
  return tensor;
}

/** NCHW `[1, C, H, W]` → NHWC `[1, H, W, C]`. */
export function nchwToNhwc(tensor: Float32Tensor): Float32Tensor {
  const [, c, height, width] = tensor.shape;
  const plane = height * width;
  const out = new Float32Array(tensor.data.length);
  for (let ch = 0; ch < c; ch++) {
    const from = ch * plane;
    for (let p = 0; p < plane; p++) out[p * c + ch] = tensor.data[from + p];
  }
  return { data: out, shape: [1, height, width, c] };
}
