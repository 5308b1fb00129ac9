/**
 * The frame worker's tasks (server/frame-worker.ts): a video frame's pixel work before and after the forward pass
 * (segmentation/video/frame-stages.ts), run off the thread that feeds ffmpeg and the engine. Pixel buffers move
 * between the threads (transferred, not copied): each answer hands back the frame it was given.
 */
import type { Float32Tensor } from '../model/engines/engine.js';
import type { InferenceSize } from '../segmentation/preprocess.js';
import type { RgbImage } from '../segmentation/types.js';
import type { FinishedFrame, FrameDrawing, PreparedFrame } from '../segmentation/video/frame-stages.js';
import type { WireError } from './worker-errors.js';

export interface PrepareFrameTask {
  task: 'prepare';
  image: RgbImage;
  size: InferenceSize;
  minSide?: number;
}

export interface FinishFrameTask {
  task: 'finish';
  image: RgbImage;
  logits: Float32Tensor;
  drawing: FrameDrawing;
}

export type FrameTask = PrepareFrameTask | FinishFrameTask;

export type FrameTaskAnswer =
  | { ok: true; task: 'prepare'; image: RgbImage; prepared: PreparedFrame }
  | { ok: true; task: 'finish'; image: RgbImage; finished: FinishedFrame }
  | { ok: false; error: WireError };

/** The buffers of `arrays` that may move to another thread: each view covering its whole own ArrayBuffer, once each. */
export function movableBuffers(arrays: ReadonlyArray<ArrayBufferView | undefined>): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const view of arrays) {
    // A small Buffer may sit in Node's shared pool (or a view in a larger buffer), which must not be detached.
    if (view && view.buffer instanceof ArrayBuffer && view.byteOffset === 0 && view.byteLength === view.buffer.byteLength) buffers.add(view.buffer);
  }
  return [...buffers];
}
