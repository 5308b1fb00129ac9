/**
 * Trained-like logits for timing the upsample+argmax: no trained checkpoint is reachable offline, and an untrained
 * network's logits flip class between neighbouring cells (the upsample+argmax's worst case). These are a street
 * layout's labels at the logits' 1/8 resolution (sky, buildings with poles, trees, road with cars, sidewalk), one-hot
 * scaled to 10 and 3x3 box-blurred, so classes change only at region boundaries as a trained model's do.
 */
import type { Float32Tensor } from '../../model/engines/engine.js';

/** The class (0..c-1) of a street layout at normalised coordinates (u across, v down). */
function streetClass(u: number, v: number, c: number): number {
  const pick = (k: number) => k % c;
  if (v < 0.3) return pick(10); // sky
  if (v < 0.55) {
    if (Math.abs((u * 12) % 1 - 0.5) < 0.03) return pick(5); // poles
    if ((u > 0.1 && u < 0.25) || (u > 0.7 && u < 0.8)) return pick(8); // trees
    return pick(2); // buildings
  }
  if (v < 0.62) return pick(1); // sidewalk
  if (v < 0.75 && ((u > 0.2 && u < 0.35) || (u > 0.55 && u < 0.62))) return pick(13); // cars
  return pick(0); // road
}

/** NHWC `[1, h, w, c]` logits of the street layout (see the module comment). */
export function smoothLogits(h: number, w: number, c: number): Float32Tensor {
  const labels = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) labels[y * w + x] = streetClass((x + 0.5) / w, (y + 0.5) / h, c);
  const data = new Float32Array(h * w * c);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const out = (y * w + x) * c;
      let n = 0;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const yy = Math.min(h - 1, Math.max(0, y + dy));
          const xx = Math.min(w - 1, Math.max(0, x + dx));
          data[out + labels[yy * w + xx]] += 10;
          n++;
        }
      }
      for (let k = 0; k < c; k++) data[out + k] = data[out + k] / n - 5;
    }
  }
  return { data, shape: [1, h, w, c] };
}

/**
 * Share of the logits' 2x2 cells whose corners do not all have the same argmax: the cells where upsample+argmax
 * must interpolate (elsewhere the label is copied), so what makes one set of logits slower than another.
 */
export function mixedCellShare(logits: Float32Tensor): number {
  const [, h, w, c] = logits.shape;
  const best = new Uint8Array(h * w);
  for (let p = 0; p < h * w; p++) {
    let k = 0;
    for (let j = 1; j < c; j++) if (logits.data[p * c + j] > logits.data[p * c + k]) k = j;
    best[p] = k;
  }
  let mixed = 0;
  for (let y = 0; y + 1 < h; y++) {
    for (let x = 0; x + 1 < w; x++) {
      const k = best[y * w + x];
      if (best[y * w + x + 1] !== k || best[(y + 1) * w + x] !== k || best[(y + 1) * w + x + 1] !== k) mixed++;
    }
  }
  return (h > 1 && w > 1) ? mixed / ((h - 1) * (w - 1)) : 0;
}
