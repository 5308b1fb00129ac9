/**
 * Entry of an inference worker thread (piscina): loads and warms its own copy of its pool's models (one
 * repository entry, or the settings' two), tells the main thread what it loaded, then runs jobs exactly as the
 * in-process runner does.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { inProcessRunner, type InferenceJob } from './inference.js';
import { loadOnThisThread } from './model-runner.js';
import { toWire } from './worker-errors.js';
import { WORKER_READY, type ModelSummary, type WorkerAnswer, type WorkerData } from './worker-protocol.js';

const { config, entries } = workerData as WorkerData;
const { registry, loaded } = await loadOnThisThread(entries, config);

const summaries: ModelSummary[] = loaded.map(({ engine, ...facts }) => ({ ...facts, backend: engine.backend }));
parentPort?.postMessage({ [WORKER_READY]: summaries });

const runner = inProcessRunner(registry);

/**
 * The answer with its encoded body moved to the main thread instead of copied, when the body owns its whole
 * ArrayBuffer (a small Buffer may sit in Node's shared pool, which must not be detached).
 */
function moved(answer: WorkerAnswer): unknown {
  const buffers = new Set<ArrayBuffer>();
  if (answer.ok && answer.result.task === 'segmentation' && answer.result.body) {
    const { body } = answer.result;
    if (body.buffer instanceof ArrayBuffer && body.byteOffset === 0 && body.byteLength === body.buffer.byteLength) {
      buffers.add(body.buffer);
    }
  }
  // Piscina moves an object that names its transferables, once marked by move().
  return move({ [transferableSymbol]: [...buffers], [valueSymbol]: answer });
}

export default async function runJob(job: InferenceJob): Promise<unknown> {
  try {
    return moved({ ok: true, result: await runner.run(job) });
  } catch (error) {
    return { ok: false, error: toWire(error) } satisfies WorkerAnswer;
  }
}
