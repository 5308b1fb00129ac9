import type { Float32Tensor } from '../model/engines/engine.js';
import { MAX_CLASSES } from './class-map.js';
import { InvalidArgumentError, ShapeError } from './errors.js';
import type { ClassMap } from './types.js';

/**
 * Logits → class map at the original size, like torch's
 * `F.interpolate(x, size, mode='bilinear', align_corners=False).argmax(1)`.
 *
 * The arithmetic follows ATen's CPU kernel (torch 1.13, AVX2 build) so values match it bit for bit:
 * the source coordinate is computed in double from a float32 scale, the weights are stored as
 * float32, each row is interpolated horizontally first, then the two rows vertically, and each
 * `w0 * a + w1 * b` is one fused multiply-add onto the rounded `w1 * b`. (JS has no FMA: we add in
 * double and round once more, which can differ from a true FMA only in a rare double rounding.)
 */

/** Per output coordinate along one axis: the two source indices and their float32 weights. */
interface LinearAxis {
  i0: Int32Array;
  i1: Int32Array;
  w0: Float32Array;
  w1: Float32Array;
}

function linearAxis(inSize: number, outSize: number): LinearAxis {
  const axis: LinearAxis = {
    i0: new Int32Array(outSize),
    i1: new Int32Array(outSize),
    w0: new Float32Array(outSize),
    w1: new Float32Array(outSize),
  };
  const scale = Math.fround(inSize / outSize);
  for (let o = 0; o < outSize; o++) {
    if (inSize === outSize) {
      // ATen copies when sizes match.
      axis.i0[o] = o;
      axis.i1[o] = o;
      axis.w0[o] = 1;
      continue;
    }
    // Half-pixel centres; coordinates left of the first centre clamp to it.
    const src = Math.max(0, scale * (o + 0.5) - 0.5);
    const i0 = Math.trunc(src);
    axis.i0[o] = i0;
    axis.i1[o] = i0 < inSize - 1 ? i0 + 1 : i0;
    axis.w1[o] = src - i0;
    axis.w0[o] = 1 - axis.w1[o];
  }
  return axis;
}

/** ATen's `a * w0 + b * w1` in float32, compiled as fma(w0, a, round(w1 * b)). */
function lerp(w0: number, a: number, w1: number, b: number): number {
  return Math.fround(w0 * a + Math.fround(w1 * b));
}

interface LogitsShape {
  h: number;
  w: number;
  c: number;
}

function checkLogits(logits: Float32Tensor, outH: number, outW: number): LogitsShape {
  const { shape, data } = logits;
  if (shape.length !== 4 || shape[0] !== 1) {
    throw new ShapeError(`logits must be NHWC [1, h, w, C], got [${shape.join(', ')}]`);
  }
  const [, h, w, c] = shape;
  if (!(h >= 1 && w >= 1 && c >= 1)) throw new ShapeError(`logits shape [${shape.join(', ')}] has an empty axis`);
  if (data.length !== h * w * c) {
    throw new ShapeError(`logits shape [${shape.join(', ')}] needs ${h * w * c} values, data has ${data.length}`);
  }
  if (c > MAX_CLASSES) throw new ShapeError(`logits have ${c} classes, a class map holds at most ${MAX_CLASSES}`);
  if (!(Number.isInteger(outH) && Number.isInteger(outW) && outH >= 1 && outW >= 1)) {
    throw new InvalidArgumentError(`output size must be positive integers, got ${outH}x${outW}`);
  }
  return { h, w, c };
}

/** Index of the largest of `c` values from `offset`; ties go to the lowest index like torch.argmax. */
function argmaxAt(values: ArrayLike<number>, offset: number, c: number): number {
  let best = 0;
  let bestValue = values[offset];
  for (let k = 1; k < c; k++) {
    const v = values[offset + k];
    if (v > bestValue) {
      bestValue = v;
      best = k;
    }
  }
  return best;
}

/** One source row interpolated horizontally at output columns, filled column by column on demand. */
interface RowSlot {
  sourceRow: number;
  values: Float32Array;
  filled: Uint8Array;
}

/**
 * Horizontal interpolations of the (at most two) source rows the current output row reads. Output
 * rows that share source rows (all 8 rows between two source rows when upsampling x8) reuse them,
 * and only the columns someone asks for are computed.
 */
class HorizontalRows {
  private readonly xs: LinearAxis;
  private readonly slots: [RowSlot, RowSlot];

  private readonly src: Float32Array;
  private readonly w: number;
  private readonly c: number;
  constructor(
    src: Float32Array,
    w: number,
    c: number,
    outW: number,
  ) {
    this.src = src;
    this.w = w;
    this.c = c;
    this.xs = linearAxis(w, outW);
    const slot = (): RowSlot => ({ sourceRow: -1, values: new Float32Array(outW * c), filled: new Uint8Array(outW) });
    this.slots = [slot(), slot()];
  }

  /** The slots holding source rows y0 and y1 (the same slot when y0 === y1). */
  rows(y0: number, y1: number): [RowSlot, RowSlot] {
    const find = (y: number) => this.slots.find((s) => s.sourceRow === y);
    const top = find(y0) ?? this.claim(y0, find(y1));
    const bottom = find(y1) ?? this.claim(y1, top);
    return [top, bottom];
  }

  private claim(sourceRow: number, keep: RowSlot | undefined): RowSlot {
    const slot = this.slots[0] === keep ? this.slots[1] : this.slots[0];
    slot.sourceRow = sourceRow;
    slot.filled.fill(0);
    return slot;
  }

  /** Offset of output column ox's C values in `slot.values`, computing them if not yet done. */
  column(slot: RowSlot, ox: number): number {
    const { c, src } = this;
    const out = ox * c;
    if (!slot.filled[ox]) {
      const a = (slot.sourceRow * this.w + this.xs.i0[ox]) * c;
      const b = (slot.sourceRow * this.w + this.xs.i1[ox]) * c;
      const w0 = this.xs.w0[ox];
      const w1 = this.xs.w1[ox];
      for (let k = 0; k < c; k++) slot.values[out + k] = lerp(w0, src[a + k], w1, src[b + k]);
      slot.filled[ox] = 1;
    }
    return out;
  }
}

/**
 * Per source cell (the 2x2 neighbours an output pixel interpolates), the classes that can win anywhere inside it,
 * strongest first. Every interpolated value of class k lies between its smallest and largest corner, so a class
 * whose largest corner is below some other class's smallest corner can never be the argmax there; and at a given
 * pixel, once some class reaches value v, no class whose largest corner (its `ceiling`) is below v can win. A small
 * relative margin on each ceiling keeps float32 rounding of the interpolation from ever excluding a true winner.
 * Cells are kept for one pair of source rows at a time (output rows come in order), so memory is O(w * C).
 */
class CellCandidates {
  private readonly start: Int32Array;
  private readonly count: Uint8Array;
  /** Candidate classes of each cell, by descending ceiling. */
  readonly list: Uint8Array;
  /** Upper bound of each candidate's interpolated value anywhere in the cell (largest corner plus margin). */
  readonly ceiling: Float32Array;
  private readonly low: Float32Array;
  private readonly high: Float32Array;
  private readonly c: number;
  /** The source row pair (top row index) the cached cells belong to. */
  private row = -1;

  constructor(w: number, c: number) {
    this.c = c;
    this.start = new Int32Array(w).fill(-1);
    this.count = new Uint8Array(w);
    this.list = new Uint8Array(w * c);
    this.ceiling = new Float32Array(w * c);
    this.low = new Float32Array(c);
    this.high = new Float32Array(c);
  }

  /** Forgets the cached cells when the output moves on to another pair of source rows. */
  useRow(y0: number): void {
    if (y0 === this.row) return;
    this.row = y0;
    this.start.fill(-1);
  }

  /**
   * Fills (once per cell) and returns the offset of cell x0's candidates in `list`; their number is `countOf`.
   * `top`/`bottom` hold the two source rows (at `topBase`/`bottomBase`), corners at columns x0 and x1.
   */
  of(top: Float32Array, topBase: number, bottom: Float32Array, bottomBase: number, x0: number, x1: number): number {
    if (this.start[x0] >= 0) return this.start[x0];
    const { c, low, high, list, ceiling } = this;
    const corners: [Float32Array, number][] = [
      [top, topBase + x0 * c],
      [top, topBase + x1 * c],
      [bottom, bottomBase + x0 * c],
      [bottom, bottomBase + x1 * c],
    ];
    let threshold = -Infinity;
    for (let k = 0; k < c; k++) {
      let lo = corners[0][0][corners[0][1] + k];
      let hi = lo;
      for (let i = 1; i < 4; i++) {
        const v = corners[i][0][corners[i][1] + k];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      low[k] = lo;
      high[k] = hi;
      if (lo > threshold) threshold = lo;
    }
    const offset = x0 * c;
    let n = 0;
    for (let k = 0; k < c; k++) {
      const bound = high[k] + 1e-6 * Math.max(Math.abs(low[k]), Math.abs(high[k])) + 1e-30;
      if (bound < threshold) continue;
      // Insertion by descending ceiling (n <= C, once per cell).
      let i = n++;
      while (i > 0 && ceiling[offset + i - 1] < bound) {
        list[offset + i] = list[offset + i - 1];
        ceiling[offset + i] = ceiling[offset + i - 1];
        i--;
      }
      list[offset + i] = k;
      ceiling[offset + i] = bound;
    }
    this.start[x0] = offset;
    this.count[x0] = n;
    return offset;
  }

  countOf(x0: number): number {
    return this.count[x0];
  }
}

/** One source row as the band upsampler reads it: its C values per column and its per-column argmax. */
interface SourceRow {
  values: Float32Array;
  base: number;
  argmax: Uint8Array;
  argmaxBase: number;
}

/**
 * upsampleArgmax fed by bands of source rows, for sources too large to hold at once (sliding-window inference at
 * an image's own size): `push` takes the next rows of the NHWC `[1, h, w, C]` source, top to bottom, and finishes
 * every output row whose two source rows have arrived. It keeps one source row from the previous band (an output
 * row never reads rows more than one apart), so the caller may reuse the buffer it pushed. Same arithmetic as
 * upsampleArgmax (which is this class fed one band): labels equal torch's
 * `F.interpolate(x, (outH, outW), mode='bilinear', align_corners=False).argmax(1)`.
 */
export class UpsampleArgmaxRows {
  /** The class map at (outH, outW); complete once all h source rows have been pushed. */
  readonly classMap: ClassMap;
  private readonly ys: LinearAxis;
  private readonly xs: LinearAxis;
  private readonly h: number;
  private readonly w: number;
  private readonly c: number;
  private readonly cells: CellCandidates;
  private readonly carry: Float32Array;
  private readonly carryArgmax: Uint8Array;
  /** Source rows received so far. */
  private received = 0;
  /** Next output row to finish. */
  private nextRow = 0;
  private readonly runs: ColumnRuns;
  /** The source rows the last output row read, and which of its column runs were mixed (the rest copy a label). */
  private pairTop = -1;
  private pairBottom = -1;
  private readonly mixed: Int32Array;
  private mixedCount = 0;

  constructor(h: number, w: number, c: number, outH: number, outW: number) {
    if (!(Number.isInteger(h) && Number.isInteger(w) && Number.isInteger(c) && h >= 1 && w >= 1 && c >= 1)) {
      throw new ShapeError(`source must be [1, h, w, C] with positive integers, got [1, ${h}, ${w}, ${c}]`);
    }
    if (c > MAX_CLASSES) throw new ShapeError(`logits have ${c} classes, a class map holds at most ${MAX_CLASSES}`);
    if (!(Number.isInteger(outH) && Number.isInteger(outW) && outH >= 1 && outW >= 1)) {
      throw new InvalidArgumentError(`output size must be positive integers, got ${outH}x${outW}`);
    }
    this.h = h;
    this.w = w;
    this.c = c;
    this.ys = linearAxis(h, outH);
    this.xs = linearAxis(w, outW);
    this.cells = new CellCandidates(w, c);
    this.runs = columnRuns(this.xs);
    this.mixed = new Int32Array(this.runs.count);
    this.carry = new Float32Array(w * c);
    this.carryArgmax = new Uint8Array(w);
    this.classMap = { data: new Uint8Array(outH * outW), width: outW, height: outH };
  }

  /** True once every source row has been pushed (and so every output row written). */
  get done(): boolean {
    return this.received === this.h;
  }

  /** The next source rows, NHWC (`rows * w * C` values); throws ShapeError past the source's h rows. */
  push(band: Float32Array): void {
    const { w, c, ys } = this;
    const rowSize = w * c;
    const rows = band.length / rowSize;
    if (!Number.isInteger(rows) || this.received + rows > this.h) {
      throw new ShapeError(`band of ${band.length} values is not whole rows of ${w}x${c} within the ${this.h - this.received} rows left`);
    }
    if (rows === 0) return;
    const first = this.received;
    const last = first + rows - 1;
    const bandArgmax = new Uint8Array(rows * w);
    for (let p = 0; p < rows * w; p++) bandArgmax[p] = argmaxAt(band, p * c, c);
    const rowAt = (y: number): SourceRow =>
      y < first
        ? { values: this.carry, base: 0, argmax: this.carryArgmax, argmaxBase: 0 }
        : { values: band, base: (y - first) * rowSize, argmax: bandArgmax, argmaxBase: (y - first) * w };
    const outH = this.classMap.height;
    while (this.nextRow < outH && ys.i1[this.nextRow] <= last) {
      const oy = this.nextRow++;
      this.outputRow(oy, rowAt(ys.i0[oy]), rowAt(ys.i1[oy]));
    }
    this.carry.set(band.subarray((rows - 1) * rowSize, rows * rowSize));
    this.carryArgmax.set(bandArgmax.subarray((rows - 1) * w, rows * w));
    this.received += rows;
  }

  /**
   * Output row oy from its two source rows, a run of output columns (those between the same two source columns)
   * at a time: a run whose four corners share an argmax is that label throughout (every output row of the same
   * source-row pair repeats it, so such rows start as a copy of the previous one); only mixed runs interpolate.
   */
  private outputRow(oy: number, top: SourceRow, bottom: SourceRow): void {
    const { runs } = this;
    const outW = this.classMap.width;
    const out = this.classMap.data;
    const outRow = oy * outW;
    const y0 = this.ys.i0[oy];
    const y1 = this.ys.i1[oy];
    if (y0 === this.pairTop && y1 === this.pairBottom) {
      out.copyWithin(outRow, outRow - outW, outRow);
    } else {
      this.pairTop = y0;
      this.pairBottom = y1;
      this.mixedCount = 0;
      const ta = top.argmax;
      const ba = bottom.argmax;
      for (let r = 0; r < runs.count; r++) {
        const x0 = runs.x0[r];
        const x1 = runs.x1[r];
        const k0 = ta[top.argmaxBase + x0];
        if (k0 === ta[top.argmaxBase + x1] && k0 === ba[bottom.argmaxBase + x0] && k0 === ba[bottom.argmaxBase + x1]) {
          for (let ox = runs.start[r], end = runs.start[r + 1]; ox < end; ox++) out[outRow + ox] = k0;
        } else {
          this.mixed[this.mixedCount++] = r;
        }
      }
    }
    this.cells.useRow(y0);
    for (let m = 0; m < this.mixedCount; m++) this.mixedRun(this.mixed[m], oy, top, bottom);
  }

  /** The output columns of run r in row oy, where the corners disagree: the candidates of the cell, interpolated. */
  private mixedRun(r: number, oy: number, top: SourceRow, bottom: SourceRow): void {
    const { xs, c, cells, runs } = this;
    const out = this.classMap.data;
    const outRow = oy * this.classMap.width;
    const wy0 = this.ys.w0[oy];
    const wy1 = this.ys.w1[oy];
    const src0 = top.values;
    const src1 = bottom.values;
    const x0 = runs.x0[r];
    const x1 = runs.x1[r];
    const a = top.base + x0 * c;
    const b = top.base + x1 * c;
    const d = bottom.base + x0 * c;
    const e = bottom.base + x1 * c;
    const offset = cells.of(src0, top.base, src1, bottom.base, x0, x1);
    const n = cells.countOf(x0);
    const { list, ceiling } = cells;
    for (let ox = runs.start[r], end = runs.start[r + 1]; ox < end; ox++) {
      const wx0 = xs.w0[ox];
      const wx1 = xs.w1[ox];
      let best = -1;
      let bestValue = -Infinity;
      for (let i = 0; i < n; i++) {
        // Candidates come by descending ceiling: once one is below the best value, so are all the rest.
        if (ceiling[offset + i] < bestValue) break;
        const k = list[offset + i];
        const v = lerp(wy0, lerp(wx0, src0[a + k], wx1, src0[b + k]), wy1, lerp(wx0, src1[d + k], wx1, src1[e + k]));
        // Exact ties go to the lowest class index, like torch.argmax.
        if (v > bestValue || (v === bestValue && k < best)) {
          bestValue = v;
          best = k;
        }
      }
      out[outRow + ox] = best;
    }
  }
}

/**
 * Maximal runs of output columns that read the same two source columns (i0, i1): `start[r]..start[r + 1]` are
 * run r's columns. Upsampling x8, each run is 8 columns wide.
 */
interface ColumnRuns {
  count: number;
  start: Int32Array;
  x0: Int32Array;
  x1: Int32Array;
}

function columnRuns(xs: LinearAxis): ColumnRuns {
  const outW = xs.i0.length;
  const start = new Int32Array(outW + 1);
  const x0 = new Int32Array(outW);
  const x1 = new Int32Array(outW);
  let count = 0;
  for (let ox = 0; ox < outW; ox++) {
    if (count > 0 && xs.i0[ox] === x0[count - 1] && xs.i1[ox] === x1[count - 1]) continue;
    start[count] = ox;
    x0[count] = xs.i0[ox];
    x1[count] = xs.i1[ox];
    count++;
  }
  start[count] = outW;
  return { count, start, x0, x1 };
}

/**
 * Bilinear (align_corners=False) upsample of NHWC `[1, h, w, C]` logits to (outH, outW), then argmax
 * over C, without materialising the C x outH x outW map. When the 4 source neighbours of an output
 * pixel share one argmax, every convex combination of them has that argmax too; elsewhere only the
 * classes that can win in that cell (CellCandidates) are interpolated, with the same arithmetic as
 * upsampleLogits, so labels equal torch's argmax (float32 near-ties aside; exact ties → lowest index).
 */
export function upsampleArgmax(logits: Float32Tensor, outH: number, outW: number): ClassMap {
  const { h, w, c } = checkLogits(logits, outH, outW);
  const rows = new UpsampleArgmaxRows(h, w, c, outH, outW);
  rows.push(logits.data);
  return rows.classMap;
}

/**
 * Bilinear (align_corners=False) upsample of NHWC `[1, h, w, C]` logits to (outH, outW), one output row at a time:
 * `row(oy, values)` gets row oy as NHWC values (outW * C, a buffer reused for the next row). For callers that fold
 * rows into something else (sliding-window sums) without a C x outH x outW map; upsampleLogits is this, collected.
 */
export function upsampleLogitsByRow(
  logits: Float32Tensor,
  outH: number,
  outW: number,
  row: (oy: number, values: Float32Array) => void,
): void {
  const { h, w, c } = checkLogits(logits, outH, outW);
  const ys = linearAxis(h, outH);
  const horizontal = new HorizontalRows(logits.data, w, c, outW);
  const values = new Float32Array(outW * c);
  for (let oy = 0; oy < outH; oy++) {
    const wy0 = ys.w0[oy];
    const wy1 = ys.w1[oy];
    const [top, bottom] = horizontal.rows(ys.i0[oy], ys.i1[oy]);
    for (let ox = 0; ox < outW; ox++) {
      const a = horizontal.column(top, ox);
      const b = horizontal.column(bottom, ox);
      for (let ch = 0; ch < c; ch++) values[a + ch] = lerp(wy0, top.values[a + ch], wy1, bottom.values[b + ch]);
    }
    row(oy, values);
  }
}

/**
 * Bilinear (align_corners=False) upsample of NHWC `[1, h, w, C]` logits to NCHW `[1, C, outH, outW]`
 * (torch's layout, for callers that want the raw scores).
 */
export function upsampleLogits(logits: Float32Tensor, outH: number, outW: number): Float32Tensor {
  const c = logits.shape[3];
  const plane = outH * outW;
  let out = new Float32Array(0);
  upsampleLogitsByRow(logits, outH, outW, (oy, values) => {
    if (out.length === 0) out = new Float32Array(c * plane);
    const p0 = oy * outW;
    for (let ox = 0; ox < outW; ox++) {
      for (let ch = 0; ch < c; ch++) out[ch * plane + p0 + ox] = values[ox * c + ch];
    }
  });
  return { data: out, shape: [1, c, outH, outW] };
}

/** Argmax over C of an NCHW `[1, C, H, W]` tensor (ties → lowest index). */
export function argmaxChannels(scores: Float32Tensor): ClassMap {
  const { shape, data } = scores;
  if (shape.length !== 4 || shape[0] !== 1) throw new ShapeError(`scores must be NCHW [1, C, H, W], got [${shape.join(', ')}]`);
  const [, c, height, width] = shape;
  if (c > MAX_CLASSES) throw new ShapeError(`scores have ${c} classes, a class map holds at most ${MAX_CLASSES}`);
  const plane = height * width;
  const out = new Uint8Array(plane);
  const best = new Float32Array(data.subarray(0, plane));
  for (let ch = 1; ch < c; ch++) {
    const offset = ch * plane;
    for (let p = 0; p < plane; p++) {
      if (data[offset + p] > best[p]) {
        best[p] = data[offset + p];
        out[p] = ch;
      }
    }
  }
  return { data: out, width, height };
}

/** Numerically stable softmax (float64 internally) of one vector of logits. */
export function softmax(logits: ArrayLike<number>): Float32Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const exps = Float64Array.from({ length: logits.length }, (_, i) => Math.exp(logits[i] - max));
  const sum = exps.reduce((s, v) => s + v, 0);
  return Float32Array.from(exps, (v) => v / sum);
}

export interface TopKEntry {
  index: number;
  label: string;
  probability: number;
}

/** The k most probable classes, most probable first; equal probabilities keep index order. */
export function topK(probs: ArrayLike<number>, k: number, labels: readonly string[]): TopKEntry[] {
  if (!(Number.isInteger(k) && k >= 1)) throw new InvalidArgumentError(`top-k must be a positive integer, got ${k}`);
  if (labels.length !== probs.length) {
    throw new ShapeError(`classifier has ${probs.length} outputs but ${labels.length} labels were given`);
  }
  return Array.from({ length: probs.length }, (_, index) => index)
    .sort((a, b) => probs[b] - probs[a] || a - b)
    .slice(0, k)
    .map((index) => ({ index, label: labels[index], probability: probs[index] }));
}
