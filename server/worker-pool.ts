import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { LoadedModel } from '../model/loaded-model.js';
import { jobsPerEngine, type ServerConfig } from './config.js';
import type { InferenceJob, InferenceResult } from './inference.js';
import { QueueTimeoutError, type JobRunner } from './inference-queue.js';
import { entriesFromSettings, type ModelEntry } from './models-file.js';
import { fromWire } from './worker-errors.js';
import { isWorkerReady, type ModelSummary, type WorkerAnswer, type WorkerData } from './worker-protocol.js';

/** The worker entry: inference-worker.js when compiled; from TypeScript sources, a shim that registers tsx first. */
const WORKER_FILE = fileURLToPath(
  new URL(extname(fileURLToPath(import.meta.url)) === '.ts' ? './inference-worker-tsx.mjs' : './inference-worker.js', import.meta.url),
);

export interface WorkerPool {
  runner: JobRunner<InferenceJob, InferenceResult>;
  /** Resolves once every worker has loaded and warmed its models: what they loaded, for the API to describe. */
  models: Promise<LoadedModel[]>;
}

/** The main thread's stand-in for a model that runs elsewhere (a worker, a runner): it describes the model but never runs it. */
export function remoteModel({ backend, ...facts }: ModelSummary): LoadedModel {
  return {
    ...facts,
    engine: {
      engine: facts.engineName,
      backend,
      run: () => Promise.reject(new Error(`model ${facts.id} runs in the inference worker threads`)),
      dispose() {},
    },
  };
}

/** What a pool reports after start-up: a worker that died, and one it terminated because a job was stuck on it. */
export interface WorkerEvents {
  error?: (error: Error) => void;
  terminated?: (reason: string) => void;
}

/** A job lost because its worker thread was terminated for another, stuck job on it: retryable, like a timeout. */
export class WorkerReplacedError extends QueueTimeoutError {
  constructor() {
    super('the inference worker running this job was terminated because another job on it was stuck: try again', 1);
  }
}

/**
 * A pool of threads (the entries' `workers`, the same for all of them), each with its own copy of the entries'
 * models (default: the settings' two), behind the same JobRunner interface as the in-process runner.
 */
export function startWorkerPool(
  config: ServerConfig,
  events: WorkerEvents = {},
  entries: ModelEntry[] = entriesFromSettings(config),
): WorkerPool {
  const threads = Math.max(1, entries[0]?.workers ?? config.workers);
  const workerData: WorkerData = { config, entries };
  const pool = new Piscina<InferenceJob, WorkerAnswer>({
    filename: WORKER_FILE,
    workerData,
    minThreads: threads,
    maxThreads: threads,
    // The queue admits exactly this many per worker (app.ts), so no job waits unseen inside piscina.
    concurrentTasksPerWorker: jobsPerEngine({ maxBatch: entries[0]?.maxBatch ?? config.maxBatch }),
    // The workers run async native work (ONNX Runtime, sharp) that an Atomics.wait loop would stall.
    atomics: 'disabled',
  });

  // A dying worker must never end the process: piscina replaces it, its job fails alone (an 'error' event
  // without a listener would be thrown).
  let started = false;
  pool.on('error', (error: Error) => {
    // Before start-up completes the `models` promise reports the failure.
    if (started) events.error?.(error);
  });

  const models = new Promise<LoadedModel[]>((resolve, reject) => {
    const reports: ModelSummary[][] = [];
    const onMessage = (message: unknown) => {
      if (!isWorkerReady(message)) return;
      reports.push(message.citysegWorkerReady);
      if (reports.length < threads) return;
      pool.off('error', onError);
      pool.off('message', onMessage);
      started = true;
      resolve(reports[0].map(remoteModel));
    };
    const onError = (error: Error) => {
      pool.off('message', onMessage);
      reject(new Error(`an inference worker failed to start: ${error.message}`, { cause: error }));
    };
    pool.on('message', onMessage);
    pool.once('error', onError);
  });
  // Whoever awaits `models` sees the failure; until then it must not count as an unhandled rejection.
  models.catch(() => undefined);

  return {
    models,
    runner: {
      async run(job, _lane, cancelled) {
        const answer = await runUnlessStuck(pool, job, cancelled, config.stuckJobMs, events);
        if (!answer.ok) throw fromWire(answer.error);
        return answer.result;
      },
      close: () => pool.close(),
    },
  };
}

/** piscina's error for the tasks of a worker it terminated (piscina/src/errors.ts ThreadTermination). */
const THREAD_TERMINATION = 'Terminating worker thread';

/**
 * Runs `job` on the pool; once `cancelled` aborts (nobody waits for the answer) the job has `stuckMs` to return
 * before its worker thread is terminated (piscina aborts a running task by terminating its worker, then starts a
 * replacement): no decoder or pass, however it loops, keeps a worker past that. The other jobs that were on the
 * terminated worker fail with WorkerReplacedError.
 */
async function runUnlessStuck(
  pool: Piscina<InferenceJob, WorkerAnswer>,
  job: InferenceJob,
  cancelled: AbortSignal | undefined,
  stuckMs: number,
  events: WorkerEvents,
): Promise<WorkerAnswer> {
  const terminate = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const onCancelled = () => {
    timer = setTimeout(() => {
      const reason = `a ${job.task} job of model ${job.modelId} ran ${stuckMs} ms (CITYSEG_STUCK_JOB_MS) after its request stopped waiting`;
      // A job still in piscina's queue (e.g. behind a replacement's warm-up) is only removed; a running one takes its
      // worker down, which piscina reports (synchronously) as workerDestroy.
      let destroyed = false;
      const onDestroy = () => (destroyed = true);
      pool.on('workerDestroy', onDestroy);
      terminate.abort(new Error(reason));
      pool.off('workerDestroy', onDestroy);
      if (destroyed) events.terminated?.(reason);
    }, stuckMs).unref();
  };
  if (cancelled?.aborted) onCancelled();
  else cancelled?.addEventListener('abort', onCancelled, { once: true });
  try {
    return await pool.run(job, { signal: terminate.signal });
  } catch (error) {
    if (!terminate.signal.aborted && error instanceof Error && error.message.startsWith(THREAD_TERMINATION)) throw new WorkerReplacedError();
    throw error;
  } finally {
    clearTimeout(timer);
    cancelled?.removeEventListener('abort', onCancelled);
  }
}
