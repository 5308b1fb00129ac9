/**
 * mmsegmentation 1.x's `slide_inference` in bounded memory: windows are run a row of windows at a time, their
 * logits summed into a band of rows, and each row is averaged and handed on as soon as no later window covers it.
 */
import type { Float32Tensor, InferenceEngine } from '../../model/engines/engine.js';
import { ShapeError } from '../errors.js';
import { upsampleLogits, upsampleLogitsByRow } from '../postprocess.js';
import { normalizeImageNet } from '../preprocess.js';
import type { RgbImage } from '../types.js';
import { cropRgb } from '../preprocess.js';
import type { WindowSize } from './options.js';
import type { StageClock } from './stage-clock.js';
import { axisCoverage, slideWindowGrid } from './windows.js';

/** Takes finished rows, NHWC (`rows * W * C` values), top to bottom; must copy what it keeps (the buffer is reused). */
export interface RowSink {
  push(rows: Float32Array): void;
}

/** The engine's NHWC 1/8-resolution logits for `img` (one forward pass on `clock`); ShapeError unless [1, h, w, C]. */
async function engineLogits(engine: InferenceEngine, img: RgbImage, clock: StageClock): Promise<Float32Tensor> {
  const input = await clock.time('preprocess', () => normalizeImageNet(img));
  const output = await clock.time('inference', () => engine.run(input));
  clock.forwardPasses++;
  if (output.shape.length !== 4 || output.shape[0] !== 1) {
    throw new ShapeError(`segmentation engine must return NHWC logits [1, h, w, C], got [${output.shape.join(', ')}]`);
  }
  return output;
}

/**
 * The network's logits for `img` at its own size, NCHW `[1, C, H, W]`: what torchvision's LR-ASPP returns (the
 * engine's 1/8 output, bilinearly upsampled to the input). Counts one forward pass on `clock`.
 */
export async function networkLogits(engine: InferenceEngine, img: RgbImage, clock: StageClock): Promise<Float32Tensor> {
  const output = await engineLogits(engine, img, clock);
  return clock.time('postprocess', () => upsampleLogits(output, img.height, img.width));
}

/**
 * Sliding-window inference of `img` (already at the size the policy and scale chose): windows of `crop` every
 * `stride` placed as mmsegmentation places them, each window's logits the network's output for that crop at the
 * crop's size, summed in window order (rows of windows outer, columns inner) in float32 and divided by how many
 * windows cover each pixel. The averaged logits reach `sinkFor(C)` row band by row band, top to bottom; at most
 * min(crop.height, H) rows x W x C floats are held. Throws ShapeError if the engine's class count changes.
 */
export async function slideInference(
  engine: InferenceEngine,
  img: RgbImage,
  crop: WindowSize,
  stride: WindowSize,
  sinkFor: (classes: number) => RowSink,
  clock: StageClock,
): Promise<void> {
  const { width: W, height: H } = img;
  const grid = slideWindowGrid(H, W, crop, stride);
  const rowCover = axisCoverage(H, grid.rows);
  const colCover = axisCoverage(W, grid.cols);
  const bandRows = Math.min(crop.height, H);
  let c = 0;
  let sum = new Float32Array(0);
  let sink: RowSink | undefined;
  /** First row not yet handed on; row y lives at (y - top) * W * c in `sum`. */
  let top = 0;
  /** Rows of `sum` zeroed and in use, from `top`. */
  let held = 0;

  for (let i = 0; i < grid.rows.starts.length; i++) {
    const y1 = grid.rows.starts[i];
    const y2 = grid.rows.ends[i];
    for (let j = 0; j < grid.cols.starts.length; j++) {
      const x1 = grid.cols.starts[j];
      const x2 = grid.cols.ends[j];
      const window = await clock.time('preprocess', () => cropRgb(img, y1, y2, x1, x2));
      const logits = await engineLogits(engine, window, clock);
      await clock.time('postprocess', () => {
        const classes = logits.shape[3];
        if (c === 0) {
          c = classes;
          sum = new Float32Array(bandRows * W * c);
          sink = sinkFor(c);
        } else if (classes !== c) {
          throw new ShapeError(`window logits have ${classes} classes, earlier windows had ${c}`);
        }
        if (y2 - top > held) {
          sum.fill(0, held * W * c, (y2 - top) * W * c);
          held = y2 - top;
        }
        // The window's logits at the crop's size, row by row, added where the window sits (float32, like `preds +=`).
        upsampleLogitsByRow(logits, y2 - y1, x2 - x1, (y, values) => {
          const at = ((y1 - top + y) * W + x1) * c;
          for (let k = 0; k < values.length; k++) sum[at + k] += values[k];
        });
      });
    }
    // Rows above the next row of windows get no more logits: average them and hand them on.
    const next = i + 1 < grid.rows.starts.length ? grid.rows.starts[i + 1] : H;
    if (next > top) {
      await clock.time('postprocess', () => {
        const rows = next - top;
        averageRows(sum, rows, top, rowCover, colCover, W, c);
        sink?.push(sum.subarray(0, rows * W * c));
        sum.copyWithin(0, rows * W * c, held * W * c);
        held -= rows;
        top = next;
      });
    }
  }
}

/** The first `rows` rows of `sum` (image rows from `top`) divided by their window count, in float32. */
function averageRows(sum: Float32Array, rows: number, top: number, rowCover: Uint32Array, colCover: Uint32Array, W: number, c: number): void {
  for (let y = 0; y < rows; y++) {
    const ry = rowCover[top + y];
    for (let x = 0; x < W; x++) {
      const count = ry * colCover[x];
      const at = (y * W + x) * c;
      for (let ch = 0; ch < c; ch++) sum[at + ch] /= count;
    }
  }
}

/** A RowSink that keeps every row: the whole NHWC `[1, H, W, C]` map (for logits output and augmentation). */
export class DenseRows implements RowSink {
  readonly tensor: Float32Tensor;
  private filled = 0;

  constructor(height: number, width: number, classes: number) {
    this.tensor = { data: new Float32Array(height * width * classes), shape: [1, height, width, classes] };
  }

  push(rows: Float32Array): void {
    this.tensor.data.set(rows, this.filled);
    this.filled += rows.length;
  }
}
