/** Window placement of mmsegmentation 1.x's `EncoderDecoder.slide_inference` (mmseg/models/segmentors). */
import type { WindowSize } from './options.js';

/** One window: rows [y1, y2), columns [x1, x2). */
export interface SlideWindow {
  y1: number;
  y2: number;
  x1: number;
  x2: number;
}

/** Start and end of each window along one axis, in mmsegmentation's order. */
export interface AxisWindows {
  starts: number[];
  ends: number[];
}

/**
 * Along one axis of `size` pixels: `grids = max(size - crop + stride - 1, 0) // stride + 1`, window i from
 * `end = min(i * stride + crop, size)`, `start = max(end - crop, 0)`. A crop at least the size gives one window.
 */
export function axisWindows(size: number, crop: number, stride: number): AxisWindows {
  const grids = Math.floor(Math.max(size - crop + stride - 1, 0) / stride) + 1;
  const starts: number[] = [];
  const ends: number[] = [];
  for (let i = 0; i < grids; i++) {
    const end = Math.min(i * stride + crop, size);
    ends.push(end);
    starts.push(Math.max(end - crop, 0));
  }
  return { starts, ends };
}

export interface SlideWindowGrid {
  rows: AxisWindows;
  cols: AxisWindows;
  count: number;
}

/** The window grid of an H x W image: rows (h_idx) outer, columns (w_idx) inner, as mmsegmentation loops. */
export function slideWindowGrid(height: number, width: number, crop: WindowSize, stride: WindowSize): SlideWindowGrid {
  const rows = axisWindows(height, crop.height, stride.height);
  const cols = axisWindows(width, crop.width, stride.width);
  return { rows, cols, count: rows.starts.length * cols.starts.length };
}

/** Every window in mmsegmentation's order. */
export function slideWindows(height: number, width: number, crop: WindowSize, stride: WindowSize): SlideWindow[] {
  const { rows, cols } = slideWindowGrid(height, width, crop, stride);
  return rows.starts.flatMap((y1, i) => cols.starts.map((x1, j) => ({ y1, y2: rows.ends[i], x1, x2: cols.ends[j] })));
}

/** How many windows cover each position along one axis (the grid is a product, so count(y, x) = rows[y] * cols[x]). */
export function axisCoverage(size: number, windows: AxisWindows): Uint32Array {
  const cover = new Uint32Array(size);
  windows.starts.forEach((start, i) => {
    for (let p = start; p < windows.ends[i]; p++) cover[p]++;
  });
  return cover;
}
