import { countsFromString } from '../public/coco-rle.js';
import { checkClassMap } from './class-map.js';
import { InvalidArgumentError } from './errors.js';
import type { ClassMap } from './types.js';

/**
 * COCO run-length encoding, byte-for-byte like pycocotools (maskApi.c): the mask is walked in
 * column-major (Fortran) order, `counts` alternate runs of 0s and 1s starting with a (possibly
 * empty) run of 0s, and the string form is `rleToString`'s.
 */
export interface CocoRle {
  /** [height, width], as pycocotools writes it. */
  size: [number, number];
  counts: string;
}

/**
 * maskApi.c `rleToString`: each count (from the third on, minus the count two before it, so
 * alternating runs of similar length give small numbers) is written as signed 5-bit groups, low
 * group first; 0x20 marks "more groups follow"; each group is offset by 48 into printable ASCII.
 */
export function countsToString(counts: readonly number[]): string {
  let s = '';
  for (let i = 0; i < counts.length; i++) {
    let x = i > 2 ? counts[i] - counts[i - 2] : counts[i];
    let more = true;
    while (more) {
      let c = x & 0x1f;
      x = Math.floor(x / 32); // arithmetic shift right by 5, without 32-bit overflow
      more = c & 0x10 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      s += String.fromCharCode(c + 48);
    }
  }
  return s;
}

/** maskApi.c `rleFrString`: the inverse of `countsToString`. Throws InvalidArgumentError naming the bad character. */
export function stringToCounts(s: string): number[] {
  try {
    return countsFromString(s);
  } catch (error) {
    if (error instanceof RangeError) throw new InvalidArgumentError(error.message);
    throw error;
  }
}

/** Run lengths of a row-major h x w mask (nonzero = 1) walked column by column, 0-run first. */
export function maskRuns(mask: Uint8Array, h: number, w: number): number[] {
  if (mask.length !== h * w) throw new InvalidArgumentError(`mask of ${h}x${w} needs ${h * w} bytes, has ${mask.length}`);
  const counts: number[] = [];
  let value = 0;
  let run = 0;
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) {
      const v = mask[y * w + x] ? 1 : 0;
      if (v !== value) {
        counts.push(run);
        run = 0;
        value = v;
      }
      run++;
    }
  }
  counts.push(run);
  return counts;
}

/** COCO RLE of a row-major h x w binary mask (0 = background, nonzero = object). */
export function encodeRle(mask: Uint8Array, h: number, w: number): CocoRle {
  return { size: [h, w], counts: countsToString(maskRuns(mask, h, w)) };
}

/** Row-major 0/1 mask of a COCO RLE (string counts). */
export function decodeRle(rle: CocoRle): Uint8Array {
  const [h, w] = rle.size;
  const counts = stringToCounts(rle.counts);
  const total = counts.reduce((s, c) => s + c, 0);
  if (total !== h * w) throw new InvalidArgumentError(`RLE counts cover ${total} pixels but size ${h}x${w} has ${h * w}`);
  const mask = new Uint8Array(h * w);
  let p = 0;
  counts.forEach((run, i) => {
    if (i % 2 === 1) {
      for (let q = p; q < p + run; q++) mask[(q % h) * w + Math.floor(q / h)] = 1;
    }
    p += run;
  });
  return mask;
}

/**
 * The RLE of every class present in a class map, in one column-major pass: each class's counts are
 * the gaps between the positions where the walk enters or leaves that class.
 */
export function classMapRles(map: ClassMap): Map<number, CocoRle> {
  checkClassMap(map);
  const { width: w, height: h, data } = map;
  const toggles = new Map<number, number[]>();
  const toggle = (k: number, position: number) => {
    const list = toggles.get(k);
    if (list) list.push(position);
    else toggles.set(k, [position]);
  };
  let previous = -1;
  for (let x = 0, p = 0; x < w; x++) {
    for (let y = 0; y < h; y++, p++) {
      const k = data[y * w + x];
      if (k !== previous) {
        if (previous >= 0) toggle(previous, p);
        toggle(k, p);
        previous = k;
      }
    }
  }
  const total = w * h;
  const rles = new Map<number, CocoRle>();
  for (const [k, positions] of toggles) {
    const counts = positions.map((pos, i) => pos - (i > 0 ? positions[i - 1] : 0));
    counts.push(total - positions[positions.length - 1]);
    rles.set(k, { size: [h, w], counts: countsToString(counts) });
  }
  return rles;
}
