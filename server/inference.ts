import { classifyImage, segmentImage, type ClassifyResult, type SegmentResult } from '../segmentation/pipeline.js';
import type { InferenceModeOptions } from '../segmentation/inference-modes/index.js';
import type { InferenceSize } from '../segmentation/preprocess.js';
import { InferenceQueue, type JobRunner, type QueueOptions } from './inference-queue.js';
import type { ModelRegistry } from './model-registry.js';

/**
 * Plain, structured-cloneable job descriptions: a worker-pool runner receives exactly these, with
 * the model named by id (each worker holds its own copy of the models).
 */
export interface SegmentJob {
  task: 'segmentation';
  modelId: string;
  bytes: Uint8Array;
  size: InferenceSize;
  maxPixels: number;
  /** Slide / test-time augmentation; absent = one whole pass. */
  mode?: InferenceModeOptions;
}

export interface ClassifyJob {
  task: 'classification';
  modelId: string;
  bytes: Uint8Array;
  topk: number;
  maxPixels: number;
}

export type InferenceJob = SegmentJob | ClassifyJob;

export type InferenceResult =
  | { task: 'segmentation'; outcome: SegmentResult }
  | { task: 'classification'; outcome: ClassifyResult };

/** Runs jobs on this thread with the registry's engines. */
export function inProcessRunner(models: ModelRegistry): JobRunner<InferenceJob, InferenceResult> {
  return {
    async run(job) {
      const { model, labels } = models.byId(job.modelId);
      if (job.task === 'segmentation') {
        const outcome = await segmentImage(model.engine, job.bytes, { size: job.size, maxPixels: job.maxPixels }, job.mode);
        return { task: job.task, outcome };
      }
      const outcome = await classifyImage(model.engine, job.bytes, { maxPixels: job.maxPixels, topk: job.topk, labels });
      return { task: job.task, outcome };
    },
    // Engines belong to the registry, which disposes them.
    async close() {},
  };
}

/** The routes' way to inference: typed segment/classify calls through one bounded queue. */
export class InferenceService {
  readonly queue: InferenceQueue<InferenceJob, InferenceResult>;

  constructor(runner: JobRunner<InferenceJob, InferenceResult>, options: QueueOptions) {
    this.queue = new InferenceQueue(runner, options);
  }

  async segment(job: Omit<SegmentJob, 'task'>, signal?: AbortSignal): Promise<SegmentResult> {
    const result = await this.queue.submit({ task: 'segmentation', ...job }, signal);
    if (result.task !== 'segmentation') throw new TypeError(`runner answered a ${result.task} job for a segmentation job`);
    return result.outcome;
  }

  async classify(job: Omit<ClassifyJob, 'task'>, signal?: AbortSignal): Promise<ClassifyResult> {
    const result = await this.queue.submit({ task: 'classification', ...job }, signal);
    if (result.task !== 'classification') throw new TypeError(`runner answered a ${result.task} job for a classification job`);
    return result.outcome;
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
