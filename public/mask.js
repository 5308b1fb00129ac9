// The class map the API answers (format=json&rle=true) and the three views the page draws from it locally:
// colour mask, overlay on the input, label ids. One request per image; switching views never asks the server again.
import { countsFromString } from './coco-rle.js';

/**
 * `{ width, height, classes: [{ index, rle }] }` → row-major class indices (Uint8Array). Pixels of no listed
 * class stay 255 (drawn black, as the server's encoders draw values outside the label set).
 */
export function classMapFromStats({ width, height, classes }) {
  const map = new Uint8Array(width * height).fill(255);
  for (const entry of classes) {
    if (!entry.rle) continue;
    const counts = countsFromString(entry.rle.counts);
    let position = 0; // column-major, like COCO
    for (let i = 0; i < counts.length; i++) {
      if (i % 2 === 1) {
        for (let j = position; j < position + counts[i]; j++) {
          const x = Math.floor(j / height);
          map[(j - x * height) * width + x] = entry.index;
        }
      }
      position += counts[i];
    }
  }
  return map;
}

/** index → [r, g, b] and index → label id, for the classes listed (the rest: black, id 0). */
function tables(classes) {
  const colours = new Map(classes.map((entry) => [entry.index, entry.color]));
  const ids = new Map(classes.map((entry) => [entry.index, entry.id]));
  return { colours, ids };
}

/**
 * RGBA pixels of one view, as the server's encoders compute them (segmentation/encode.ts):
 * color → the class colours; labelIds → grey = Cityscapes label id; overlay → round((1 - a) * pixel + a * colour)
 * where a class is known, the pixel unchanged elsewhere. `input` is the image's RGBA pixels at the mask's size.
 */
export function viewPixels(view, map, classes, { input, alpha }) {
  const { colours, ids } = tables(classes);
  const out = new Uint8ClampedArray(map.length * 4);
  for (let p = 0; p < map.length; p++) {
    const o = p * 4;
    const colour = colours.get(map[p]);
    out[o + 3] = 255;
    if (view === 'labelIds') {
      const id = ids.get(map[p]) ?? 0;
      out[o] = id;
      out[o + 1] = id;
      out[o + 2] = id;
    } else if (view === 'overlay') {
      for (let ch = 0; ch < 3; ch++) {
        const pixel = input ? input[o + ch] : 0;
        out[o + ch] = colour ? Math.round((1 - alpha) * pixel + alpha * colour[ch]) : pixel;
      }
    } else if (colour) {
      out[o] = colour[0];
      out[o + 1] = colour[1];
      out[o + 2] = colour[2];
    }
  }
  return out;
}

/** The input image's RGBA pixels at `width` x `height` (EXIF-oriented by the browser), or null if it cannot draw it. */
export function imagePixels(image, width, height) {
  if (!image.complete || image.naturalWidth === 0) return null;
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext('2d', { willReadFrequently: true });
  context.drawImage(image, 0, 0, width, height);
  return context.getImageData(0, 0, width, height).data;
}

/** RGBA pixels → a PNG blob. */
export async function pngOf(pixels, width, height) {
  const canvas = new OffscreenCanvas(width, height);
  canvas.getContext('2d').putImageData(new ImageData(pixels, width, height), 0, 0);
  return canvas.convertToBlob({ type: 'image/png' });
}
