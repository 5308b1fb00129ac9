import type { ImageProbe } from '../segmentation/decode.js';
import { minInputSide } from '../model/fastseg.js';
import { performance } from 'node:perf_hooks';
import { classifierTransformOf } from '../model/descriptor.js';
import { segmentationBody } from '../segmentation/output-formats.js';
import { classifyImage, segmentImage, type SegmentResult, type SegmentTimings } from '../segmentation/pipeline.js';
import type { TopKEntry } from '../segmentation/postprocess.js';
import type { InferenceModeOptions } from '../segmentation/inference-modes/index.js';
import type { InferenceSize } from '../segmentation/preprocess.js';
import { InferenceQueue, type JobRunner, type QueueOptions, type SubmitOptions } from './inference-queue.js';
import type { MemoryNeed } from './memory-budget.js';
import { encodeOutput, type OutputFormatName, type OverlayFormat } from '../segmentation/output-formats.js';
import type { ModelRegistry } from './model-registry.js';
import { drawFrame, type FrameClass, type VideoFormat } from '../segmentation/video/frame.js';
import { encodeSegmentResponse, keepsLogits, type OipOutput } from './oip/response.js';
import type { LabelSet } from '../segmentation/labels/index.js';

/**
 * What a segmentation request wants back: a format of the output table (segmentation/output-formats.ts) and its
 * options, or the Open Inference Protocol's response (server/oip/response.ts).
 */
export type SegmentOutput = ImageOutput | OipOutput;

/** A format of the output table and its options. */
export interface ImageOutput {
  format: OutputFormatName;
  alpha: number;
  overlayFormat: OverlayFormat;
  rle: boolean;
}

/**
 * Plain, structured-cloneable job descriptions: a worker-pool runner receives exactly these, with the model
 * named by id (each worker holds its own copy of the models). `cancel` is a one-slot flag over shared memory:
 * the main thread sets it when nobody waits for the answer any more, and the runner stops at its next stage.
 */
export interface SegmentJob {
  task: 'segmentation';
  modelId: string;
  bytes: Uint8Array;
  size: InferenceSize;
  maxPixels: number;
  output: SegmentOutput;
  cancel: Int32Array;
  /** Slide / test-time augmentation; absent = one whole pass. */
  mode?: InferenceModeOptions;
  /** `bytes` are RGB pixels of this size, not an encoded image (the Open Inference Protocol's UINT8 input). */
  pixels?: { width: number; height: number };
  /** The encoded image's header as the route read it for admission: the worker does not read it again. */
  probe?: ImageProbe;
  /** A video job's frame: answer the frame drawn in a video format (raw RGB) and its classes, instead of `output`'s format. */
  frame?: { format: VideoFormat; alpha: number; rle: boolean };
}

export interface ClassifyJob {
  task: 'classification';
  modelId: string;
  bytes: Uint8Array;
  topk: number;
  maxPixels: number;
  cancel: Int32Array;
  /** As SegmentJob.pixels. */
  pixels?: { width: number; height: number };
  /** As SegmentJob.probe. */
  probe?: ImageProbe;
}

export type InferenceJob = SegmentJob | ClassifyJob;

/** Milliseconds per stage, encoding included, and (filled in on the main thread) the wait in the queue. */
export interface JobTimings extends SegmentTimings {
  encodeMs: number;
  queueMs?: number;
}

/** The whole answer of a segmentation job, made off the main thread: the route only sends it. */
export interface SegmentAnswer {
  task: 'segmentation';
  width: number;
  height: number;
  inferenceSize: { width: number; height: number };
  timings: JobTimings;
  /** Images in the forward pass (dynamic batching). */
  batchSize?: number;
  /** The encoded mask (image formats). */
  body?: Uint8Array;
  contentType: string;
  /** How a slide or test-time-augmented run went (mode, forward passes); absent for one whole pass. */
  mode?: SegmentResult['mode'];
  /** The JSON body (format=json), without the HTTP-only totalMs. */
  json?: ReturnType<typeof segmentationBody>;
  /** Open Inference Protocol answers with a binary tail: the JSON header's length in `body`. */
  inferenceHeaderLength?: number;
  /** A video frame's classes and shares (SegmentJob.frame); `body` is then the drawn frame, RGB. */
  frameClasses?: FrameClass[];
}

export interface ClassifyAnswer {
  task: 'classification';
  width: number;
  height: number;
  top: TopKEntry[];
  timings: JobTimings;
  batchSize?: number;
}

export type InferenceResult = SegmentAnswer | ClassifyAnswer;

/** Thrown inside a runner when the job's caller stopped waiting; nobody reads it (the queue answered already). */
export class JobCancelledError extends Error {
  constructor() {
    super('inference job cancelled: its request timed out or its client went away');
    this.name = 'JobCancelledError';
  }
}

/** A fresh cancellation flag for one job. */
export function cancelFlag(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4));
}

/** Throws JobCancelledError once the job's flag is set (checked between stages: a forward pass cannot be interrupted). */
export function checkpoint(job: Pick<InferenceJob, 'cancel'>): void {
  if (Atomics.load(job.cancel, 0) !== 0) throw new JobCancelledError();
}

/** The job's image: encoded bytes, or RGB pixels of the given size. */
function inputOf(job: SegmentJob | ClassifyJob): Uint8Array | { data: Uint8Array; width: number; height: number } {
  return job.pixels ? { data: job.bytes, ...job.pixels } : job.bytes;
}

async function runSegmentJob(models: ModelRegistry, job: SegmentJob): Promise<SegmentAnswer> {
  const { model, labelSet } = models.byId(job.modelId);
  if (!labelSet) throw new TypeError(`segmentation model ${job.modelId} has no label set`);
  const outcome = await segmentImage(model.engine, inputOf(job), {
    size: job.size,
    minSide: minInputSide(model.arch),
    maxPixels: job.maxPixels,
    probe: job.probe,
    checkpoint: () => checkpoint(job),
    keepLogits: job.output.format === 'oip' && keepsLogits(job.output),
  }, job.mode);
  checkpoint(job);
  const { classMap, inferenceSize } = outcome;
  const started = performance.now();
  const common = { task: 'segmentation' as const, width: classMap.width, height: classMap.height, inferenceSize, mode: outcome.mode, batchSize: outcome.batchSize };
  if (job.frame) {
    const { format, alpha, rle } = job.frame;
    const { pictures, classes: frameClasses } = drawFrame(outcome.image, classMap, labelSet, { formats: [format], alpha, rle });
    return { ...common, body: pictures[0], frameClasses, contentType: 'application/octet-stream', timings: { ...outcome.timings, encodeMs: performance.now() - started } };
  }
  const encoded = await encodeAnswer(job.output, outcome, labelSet, job.modelId);
  return { ...common, ...encoded, timings: { ...outcome.timings, encodeMs: performance.now() - started } };
}

/** The answer in its output format: an image or the JSON body of the output table, or a protocol's response. */
async function encodeAnswer(
  output: SegmentOutput,
  outcome: SegmentResult,
  labelSet: LabelSet,
  modelId: string,
): Promise<Pick<SegmentAnswer, 'body' | 'json' | 'contentType' | 'inferenceHeaderLength'>> {
  if (output.format === 'oip') {
    const { body, contentType, headerLength } = encodeSegmentResponse(outcome, labelSet, output);
    return { body, contentType, inferenceHeaderLength: headerLength };
  }
  const options = { labelSet, modelId, ...output };
  if (output.format === 'json') return { json: segmentationBody(outcome, options), contentType: 'application/json' };
  const encoded = await encodeOutput(output.format, outcome, options);
  return { body: new Uint8Array(encoded.body.buffer, encoded.body.byteOffset, encoded.body.length), contentType: encoded.contentType };
}

async function runClassifyJob(models: ModelRegistry, job: ClassifyJob): Promise<ClassifyAnswer> {
  const { model, labels } = models.byId(job.modelId);
  const { image, top, timings, batchSize } = await classifyImage(model.engine, inputOf(job), {
    maxPixels: job.maxPixels,
    probe: job.probe,
    topk: job.topk,
    labels,
    transform: classifierTransformOf(model),
    checkpoint: () => checkpoint(job),
  });
  return { task: 'classification', width: image.width, height: image.height, top, batchSize, timings: { ...timings, encodeMs: 0 } };
}

/** Runs jobs on this thread with the registry's engines (the worker threads run exactly this too). */
export function inProcessRunner(models: ModelRegistry): JobRunner<InferenceJob, InferenceResult> {
  return {
    run: (job) => (job.task === 'segmentation' ? runSegmentJob(models, job) : runClassifyJob(models, job)),
    // Engines belong to the registry, which disposes them.
    async close() {},
  };
}

type JobInput<J extends InferenceJob> = Omit<J, 'task' | 'cancel'>;
/** How a job enters the queue: its deadline, lane and signal, and the memory it needs (server/memory-budget.ts). */
export type InferenceSubmit = SubmitOptions & MemoryNeed;
type SubmitInput = Omit<InferenceSubmit, 'onCancel'>;

/** The routes' way to inference: typed segment/classify calls through one bounded, memory-admitted queue. */
export class InferenceService {
  readonly queue: InferenceQueue<InferenceJob, InferenceResult, MemoryNeed>;

  constructor(runner: JobRunner<InferenceJob, InferenceResult>, options: QueueOptions<MemoryNeed>) {
    this.queue = new InferenceQueue(runner, options);
  }

  async segment(job: JobInput<SegmentJob>, options: SubmitInput = {}): Promise<SegmentAnswer> {
    const result = await this.submit({ task: 'segmentation', ...job, cancel: cancelFlag() }, options);
    if (result.task !== 'segmentation') throw new TypeError(`runner answered a ${result.task} job for a segmentation job`);
    return result;
  }

  async classify(job: JobInput<ClassifyJob>, options: SubmitInput = {}): Promise<ClassifyAnswer> {
    const result = await this.submit({ task: 'classification', ...job, cancel: cancelFlag() }, options);
    if (result.task !== 'classification') throw new TypeError(`runner answered a ${result.task} job for a classification job`);
    return result;
  }

  private async submit(job: InferenceJob, options: SubmitInput): Promise<InferenceResult> {
    const queued = performance.now();
    let started = queued;
    const result = await this.queue.submit(job, {
      ...options,
      onCancel: () => Atomics.store(job.cancel, 0, 1),
      onStart: () => (started = performance.now()),
    });
    result.timings.queueMs = started - queued;
    return result;
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
