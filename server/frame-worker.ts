/**
 * Entry of a frame worker thread (piscina): runs a video frame's pixel work before and after the forward pass
 * (frame-protocol.ts) and moves the pixels back to the main thread.
 */
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { finishFrame, prepareFrame } from '../segmentation/video/frame-stages.js';
import { movableBuffers, type FrameTask, type FrameTaskAnswer } from './frame-protocol.js';
import { toWire } from './worker-errors.js';

function moved(answer: FrameTaskAnswer, views: Array<ArrayBufferView | undefined>): unknown {
  // Piscina moves an object that names its transferables, once marked by move().
  return move({ [transferableSymbol]: movableBuffers(views), [valueSymbol]: answer });
}

export default async function runFrameTask(task: FrameTask): Promise<unknown> {
  try {
    if (task.task === 'prepare') {
      const prepared = await prepareFrame(task.image, task.size, task.minSide);
      return moved({ ok: true, task: 'prepare', image: task.image, prepared }, [task.image.data, prepared.input.data]);
    }
    const finished = finishFrame(task.image, task.logits, task.drawing);
    return moved({ ok: true, task: 'finish', image: task.image, finished }, [task.image.data, finished.classMap.data, ...finished.pictures]);
  } catch (error) {
    return { ok: false, error: toWire(error) } satisfies FrameTaskAnswer;
  }
}
