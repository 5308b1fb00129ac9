/**
 * How the CLI segments a video's frames (cityseg segment, and bench --video measuring it): each frame's pixel work
 * (resize, normalise; upsample and argmax, the video formats drawn, the classes) runs on a frame worker thread
 * (server/frame-pool.ts), the forward passes one after another on this process's engine. With three frames in
 * flight, frame n+1 is prepared and frame n-1 finished while the engine runs frame n, and this thread only moves
 * buffers between ffmpeg, the worker and the engine.
 */
import type { InferenceEngine } from '../model/engines/engine.js';
import { isPlainWhole, type InferenceModeOptions } from '../segmentation/inference-modes/index.js';
import { segmentImage, type SegmentResult } from '../segmentation/pipeline.js';
import type { InferenceSize } from '../segmentation/preprocess.js';
import type { DecodedFrame } from '../segmentation/video/decode.js';
import { drawFrame, type FrameClass } from '../segmentation/video/frame.js';
import type { FrameDrawing } from '../segmentation/video/frame-stages.js';
import { startFramePool, type FramePool } from '../server/frame-pool.js';
import { CLI_MAX_PIXELS } from './options.js';

/** Frames in flight between the decoder and the encoders: one being prepared, one in the engine, one finished. */
export const FRAME_PIPELINE_DEPTH = 3;

export interface SegmentedVideoFrame {
  /** The frame's segmentation as the image path gives it (its `image` is the decoded frame). */
  result: SegmentResult;
  /** One RGB picture per format of the drawing. */
  pictures: Uint8Array[];
  classes: FrameClass[];
}

/** Milliseconds summed over frames, per stage; `renderMs` is drawing the video formats and counting classes. */
export interface FrameStageTotals {
  preprocessMs: number;
  forwardMs: number;
  postprocessMs: number;
  renderMs: number;
}

export interface FrameSegmenter {
  segment(frame: DecodedFrame): Promise<SegmentedVideoFrame>;
  totals: FrameStageTotals;
  close(): Promise<void>;
}

export interface FrameSegmenterOptions {
  size: InferenceSize;
  /** The network's smallest side (model/fastseg.ts minInputSide), as the image path takes it. */
  minSide: number;
  /** Slide / test-time augmentation: these run whole on this thread (segmentImage); a plain whole pass is split. */
  mode?: InferenceModeOptions;
  drawing: FrameDrawing;
}

/** A segmenter for one video; close() ends its worker thread. `pool` defaults to a fresh one-thread frame pool. */
export function frameSegmenter(engine: InferenceEngine, opts: FrameSegmenterOptions, pool?: FramePool): FrameSegmenter {
  const totals: FrameStageTotals = { preprocessMs: 0, forwardMs: 0, postprocessMs: 0, renderMs: 0 };
  if (opts.mode && !isPlainWhole(opts.mode)) {
    const { mode } = opts;
    return {
      totals,
      async segment(frame) {
        const result = await segmentImage(engine, frame.image, { size: opts.size, minSide: opts.minSide, maxPixels: CLI_MAX_PIXELS }, mode);
        const started = performance.now();
        const { pictures, classes } = drawFrame(result.image, result.classMap, opts.drawing.labelSet, opts.drawing);
        totals.renderMs += performance.now() - started;
        return { result, pictures, classes };
      },
      close: async () => undefined,
    };
  }
  const frames = pool ?? startFramePool(1);
  // One forward pass at a time: the engine already uses every core it was given.
  let engineFree: Promise<unknown> = Promise.resolve();
  return {
    totals,
    async segment(frame) {
      const { image, prepared } = await frames.prepare(frame.image, opts.size, opts.minSide);
      const forward = engineFree.then(async () => {
        const started = performance.now();
        const logits = await engine.run(prepared.input);
        return { logits, waitedMs: performance.now() - started };
      });
      engineFree = forward.catch(() => undefined);
      const { logits, waitedMs } = await forward;
      const { image: back, finished } = await frames.finish(image, logits, opts.drawing);
      const forwardMs = logits.forwardMs ?? waitedMs;
      totals.preprocessMs += prepared.resizeMs + prepared.normalizeMs;
      totals.forwardMs += forwardMs;
      totals.postprocessMs += finished.postprocessMs;
      totals.renderMs += finished.renderMs;
      const result: SegmentResult = {
        image: back,
        classMap: finished.classMap,
        inferenceSize: prepared.inferenceSize,
        timings: {
          decodeMs: 0,
          preprocessMs: prepared.resizeMs + prepared.normalizeMs,
          inferenceMs: forwardMs,
          postprocessMs: finished.postprocessMs,
          resizeMs: prepared.resizeMs,
          normalizeMs: prepared.normalizeMs,
        },
      };
      return { result, pictures: finished.pictures, classes: finished.classes };
    },
    close: () => (pool ? Promise.resolve() : frames.close()),
  };
}
