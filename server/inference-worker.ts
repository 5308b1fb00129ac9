/**
 * Entry of an inference worker thread (piscina): loads and warms its own copy of the configured
 * models, tells the main thread what it loaded, then runs jobs exactly as the in-process runner does.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { inProcessRunner, type InferenceJob } from './inference.js';
import { loadConfiguredModels } from './load-models.js';
import { ModelRegistry } from './model-registry.js';
import { registerModels, warmUp } from './serve-models.js';
import { toWire } from './worker-errors.js';
import { WORKER_READY, type ModelSummary, type WorkerAnswer, type WorkerData } from './worker-protocol.js';

const { config } = workerData as WorkerData;
const registry = new ModelRegistry();
const served = await registerModels(registry, await loadConfiguredModels(config), config.labels);
for (const model of served) await warmUp(model, config.inferenceSize);

const summaries: ModelSummary[] = served.map(({ model: { engine, ...facts } }) => ({ ...facts, backend: engine.backend }));
parentPort?.postMessage({ [WORKER_READY]: summaries });

const runner = inProcessRunner(registry);

/**
 * The answer with its pixel buffers (decoded image, class map: ~8 MB at 1024x2048) moved to the main thread
 * instead of copied; the worker never touches them again.
 */
function moved(answer: WorkerAnswer): unknown {
  const buffers = new Set<ArrayBufferLike>();
  if (answer.ok) {
    buffers.add(answer.result.outcome.image.data.buffer);
    if (answer.result.task === 'segmentation') buffers.add(answer.result.outcome.classMap.data.buffer);
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
