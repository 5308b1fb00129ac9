import sharp, { type Sharp } from 'sharp';
import type { ClassifierTransform } from '../model/descriptor.js';
import type { Float32Tensor } from '../model/engines/engine.js';
import { InvalidArgumentError } from './errors.js';
import { pilResizeBilinear } from './pil-resize.js';
import type { RgbImage } from './types.js';

/**
 * How large the network sees an image: a number is the target long side in pixels (aspect ratio
 * kept, short side rounded to the nearest integer, at least 1); 'native' runs at the image's own size.
 * Images whose long side is already at or below the target are never upscaled: enlarging adds
 * compute but no detail, and the mask is upsampled to the original size afterwards anyway.
 */
export type InferenceSize = number | 'native';

export const DEFAULT_INFERENCE_SIZE = 1024;

/** torchvision's ImageNet statistics (the weights were trained with them). */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/**
 * Resampling kernel of the segmentation size policy: libvips' `linear` (a triangle filter widened by the
 * shrink factor, after a box pre-shrink for factors above 2), close to PIL's BILINEAR. The classifier, which
 * must equal torchvision's transform, uses PIL's resampler itself (pil-resize.ts).
 */
export const RESIZE_KERNEL = 'linear' as const;

/** The classifier's resampler, as /v1/models names it: PIL's BILINEAR (pil-resize.ts), which torchvision's Resize runs. */
export const PIL_BILINEAR = 'pil-bilinear' as const;

/** Parse `1024` / `native` as given on a command line or query string. */
export function parseInferenceSize(text: string): InferenceSize {
  if (text === 'native') return 'native';
  const n = Number(text);
  checkInferenceSize(n);
  return n;
}

function checkInferenceSize(size: InferenceSize): void {
  if (size !== 'native' && !(Number.isInteger(size) && size >= 1)) {
    throw new InvalidArgumentError(`inference size must be a positive integer or 'native', got ${String(size)}`);
  }
}

/**
 * The (width, height) the network runs at for an image of the given size under the policy: the long side brought
 * down to `size` (never up), then, for a network with a minimum side `minSide` (fastseg's 385: model/fastseg.ts),
 * enlarged so the short side is at least `minSide`, whatever `size` says (masks stay at the image's size).
 * Throws InvalidArgumentError when `size` itself is below `minSide`: nothing at that size can serve.
 */
export function inferenceDims(width: number, height: number, size: InferenceSize, minSide = 1): { width: number; height: number } {
  checkInferenceSize(size);
  if (size !== 'native' && size < minSide) {
    throw new InvalidArgumentError(`inference size ${size} is below this model's minimum of ${minSide} pixels a side; ask for ${minSide} or more, or native`);
  }
  const long = Math.max(width, height);
  let dims = { width, height };
  if (size !== 'native' && long > size) {
    const scale = size / long;
    dims = width >= height
      ? { width: size, height: Math.max(1, Math.round(height * scale)) }
      : { width: Math.max(1, Math.round(width * scale)), height: size };
  }
  const short = Math.min(dims.width, dims.height);
  if (short >= minSide) return dims;
  const raise = minSide / short;
  return dims.width <= dims.height
    ? { width: minSide, height: Math.max(minSide, Math.ceil(dims.height * raise)) }
    : { width: Math.max(minSide, Math.ceil(dims.width * raise)), height: minSide };
}

function rawInput(img: RgbImage): Sharp {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } });
}

async function toRgbImage(pipeline: Sharp): Promise<RgbImage> {
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}

/**
 * `img` resized to exactly width x height with the inference-size policy's kernel (up or down: test-time scales
 * above 1 enlarge); the same object when the size already matches.
 */
export async function resizeRgb(img: RgbImage, width: number, height: number): Promise<RgbImage> {
  if (width === img.width && height === img.height) return img;
  return toRgbImage(rawInput(img).resize(width, height, { fit: 'fill', kernel: RESIZE_KERNEL }));
}

/** Resize to the policy's size, `minSide` as inferenceDims (returns the same image object when no resize is needed). */
export async function resizeForInference(img: RgbImage, size: InferenceSize, minSide = 1): Promise<RgbImage> {
  const dims = inferenceDims(img.width, img.height, size, minSide);
  return resizeRgb(img, dims.width, dims.height);
}

/** Rows [y1, y2) and columns [x1, x2) of `img`, copied. */
export function cropRgb(img: RgbImage, y1: number, y2: number, x1: number, x2: number): RgbImage {
  const width = x2 - x1;
  const height = y2 - y1;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const from = ((y1 + y) * img.width + x1) * 3;
    data.set(img.data.subarray(from, from + width * 3), y * width * 3);
  }
  return { data, width, height };
}

/**
 * Per channel, the 256 possible normalised values, computed in float32 in torchvision's order:
 * ToTensor's x/255, then Normalize's (x - mean) / std.
 */
const NORMALIZE_LUT: readonly Float32Array[] = IMAGENET_MEAN.map((mean, c) => {
  const lut = new Float32Array(256);
  const m = Math.fround(mean);
  const s = Math.fround(IMAGENET_STD[c]);
  for (let v = 0; v < 256; v++) lut[v] = Math.fround(Math.fround(Math.fround(v / 255) - m) / s);
  return lut;
});

/** 8-bit RGB → NHWC float32 `[1, H, W, 3]`, ImageNet-normalised. */
export function normalizeImageNet(img: RgbImage): Float32Tensor {
  const n = img.width * img.height;
  if (img.data.length !== n * 3) {
    throw new InvalidArgumentError(`RgbImage of ${img.width}x${img.height} needs ${n * 3} bytes, has ${img.data.length}`);
  }
  const out = new Float32Array(n * 3);
  const [r, g, b] = NORMALIZE_LUT;
  for (let i = 0; i < n * 3; i += 3) {
    out[i] = r[img.data[i]];
    out[i + 1] = g[img.data[i + 1]];
    out[i + 2] = b[img.data[i + 2]];
  }
  return { data: out, shape: [1, img.height, img.width, 3] };
}

/** Python's round(): halves go to the even neighbour (torchvision's CenterCrop uses it). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** torchvision's Resize(int): short side to `size`, long side truncated like Python's int(). */
export function shortSideResizeDims(width: number, height: number, size: number): { width: number; height: number } {
  return width <= height
    ? { width: size, height: Math.trunc((size * height) / width) }
    : { width: Math.trunc((size * width) / height), height: size };
}

/** torchvision's CenterCrop offsets: int(round((dim - crop) / 2)). */
export function centreCropOffsets(width: number, height: number, crop: number): { left: number; top: number } {
  return { left: roundHalfEven((width - crop) / 2), top: roundHalfEven((height - crop) / 2) };
}

/**
 * The resized and centre-cropped image the classifier sees, `cropSize` square: torchvision's
 * `Resize(resizeShortSide)` on a PIL image (PIL's bilinear resampler, pil-resize.ts) then `CenterCrop(cropSize)`
 * (the weights' transform, model/descriptor.ts: 232 → 224 for IMAGENET1K_V2, 256 → 224 for V1).
 */
export async function classificationCrop(img: RgbImage, transform: ClassifierTransform): Promise<RgbImage> {
  const { resizeShortSide, cropSize } = transform;
  const resized = shortSideResizeDims(img.width, img.height, resizeShortSide);
  const { left, top } = centreCropOffsets(resized.width, resized.height, cropSize);
  return cropRgb(pilResizeBilinear(img, resized.width, resized.height), top, top + cropSize, left, left + cropSize);
}

/** The weights' eval transform, then ImageNet's normalisation → NHWC `[1, cropSize, cropSize, 3]`. */
export async function classificationInput(img: RgbImage, transform: ClassifierTransform): Promise<Float32Tensor> {
  return normalizeImageNet(await classificationCrop(img, transform));
}
