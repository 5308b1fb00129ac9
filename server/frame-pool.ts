/**
 * The main thread's side of the frame worker threads (frame-worker.ts): a video frame's pixel work sent off this
 * thread, its pixels moved there and back rather than copied.
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { Float32Tensor } from '../model/engines/engine.js';
import type { InferenceSize } from '../segmentation/preprocess.js';
import type { RgbImage } from '../segmentation/types.js';
import type { FinishedFrame, FrameDrawing, PreparedFrame } from '../segmentation/video/frame-stages.js';
import { movableBuffers, type FrameTask, type FrameTaskAnswer } from './frame-protocol.js';
import { fromWire } from './worker-errors.js';

/** The worker entry: frame-worker.js when compiled; from TypeScript sources, a shim that registers tsx first. */
const WORKER_FILE = fileURLToPath(
  new URL(extname(fileURLToPath(import.meta.url)) === '.ts' ? './frame-worker-tsx.mjs' : './frame-worker.js', import.meta.url),
);

export interface FramePool {
  /** prepareFrame on a worker; `image` moves there and comes back in the answer (the caller's copy is detached). */
  prepare(image: RgbImage, size: InferenceSize, minSide?: number): Promise<{ image: RgbImage; prepared: PreparedFrame }>;
  /** finishFrame on a worker; `image` moves there and back as in prepare (a failed task keeps it). */
  finish(image: RgbImage, logits: Float32Tensor, drawing: FrameDrawing): Promise<{ image: RgbImage; finished: FinishedFrame }>;
  /** Ends the threads (tasks still running are rejected). */
  close(): Promise<void>;
}

/**
 * `threads` worker threads for frames. Each takes two tasks at once, so one frame's finishing runs while the next
 * one's resize waits on libvips. Errors come back as the classes thrown there (worker-errors.ts).
 */
export function startFramePool(threads = 1): FramePool {
  const pool = new Piscina<FrameTask, FrameTaskAnswer>({
    filename: WORKER_FILE,
    minThreads: threads,
    maxThreads: threads,
    concurrentTasksPerWorker: 2,
    // sharp's libvips work is async native work that an Atomics.wait loop would stall.
    atomics: 'disabled',
  });
  const run = async (task: FrameTask, views: ArrayBufferView[]): Promise<FrameTaskAnswer & { ok: true }> => {
    const { image } = task;
    // A buffer already moved away is empty here, and piscina would lose a task that names it (the call would never settle).
    if (image.data.byteLength !== image.width * image.height * 3) {
      throw new TypeError(`frame of ${image.width}x${image.height} needs ${image.width * image.height * 3} bytes, has ${image.data.byteLength} (moved to another thread already?)`);
    }
    const answer = await pool.run(task, { transferList: movableBuffers(views) });
    if (!answer.ok) throw fromWire(answer.error);
    return answer;
  };
  return {
    async prepare(image, size, minSide) {
      const answer = await run({ task: 'prepare', image, size, minSide }, [image.data]);
      if (answer.task !== 'prepare') throw new TypeError(`the frame worker answered ${answer.task} for prepare`);
      return answer;
    },
    async finish(image, logits, drawing) {
      // The logits stay with the caller (an engine may own their memory): copied, a few hundred KB.
      const answer = await run({ task: 'finish', image, logits, drawing }, [image.data]);
      if (answer.task !== 'finish') throw new TypeError(`the frame worker answered ${answer.task} for finish`);
      return answer;
    },
    close: () => pool.destroy(),
  };
}
