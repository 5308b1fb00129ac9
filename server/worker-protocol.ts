import type { LoadedModel } from '../model/loaded-model.js';
import type { ServerConfig } from './config.js';
import type { InferenceResult } from './inference.js';
import type { ModelEntry } from './models-file.js';
import type { WireError } from './worker-errors.js';

/** What each inference worker thread is started with: the settings, and the models its pool serves. */
export interface WorkerData {
  config: ServerConfig;
  entries: ModelEntry[];
}

/** A loaded model as a worker describes it to the main thread (everything but the engine itself). */
export type ModelSummary = Omit<LoadedModel, 'engine'> & { backend: string };

/** Key of the message a worker posts once its models are loaded and warmed. */
export const WORKER_READY = 'citysegWorkerReady';

export interface WorkerReadyMessage {
  [WORKER_READY]: ModelSummary[];
}

export type WorkerAnswer = { ok: true; result: InferenceResult } | { ok: false; error: WireError };

export function isWorkerReady(message: unknown): message is WorkerReadyMessage {
  return typeof message === 'object' && message !== null && WORKER_READY in message;
}
