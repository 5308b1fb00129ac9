/**
 * Runs video jobs: each frame goes through the service's inference queue on its own (one frame of a job in the
 * queue at a time, so an image request waits behind at most one frame), under the same memory budget, engines
 * and per-request deadline as an image. DELETE and shutdown stop a job at a frame boundary.
 */
import { rename, rm } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import type { FastifyBaseLogger } from 'fastify';
import { frameTime } from '../../segmentation/video/frame.js';
import { segmentVideo } from '../../segmentation/video/run.js';
import type { VideoInfo } from '../../segmentation/video/probe.js';
import type { VideoTools } from '../../segmentation/video/tools.js';
import type { AppContext } from '../context.js';
import { queuePlacement, type ServedModel } from '../model-registry.js';
import { planSegment } from '../request-plan.js';
import { videoFrameBytes } from '../working-memory.js';
import { JOB_FILES, type JobRecord, type JobStore } from './store.js';

/** How often a running job's progress is written to its record (the in-memory record is always current). */
const SAVE_EVERY_MS = 1000;

interface Running {
  stop: AbortController;
  /** Why it was stopped: written as the failed job's error. */
  reason?: string;
  done: Promise<void>;
}

export class VideoJobs {
  private readonly running = new Map<string, Running>();
  readonly store: JobStore;
  private readonly context: AppContext;
  private readonly log: FastifyBaseLogger;
  readonly tools: VideoTools;

  constructor(store: JobStore, context: AppContext, tools: VideoTools, log: FastifyBaseLogger) {
    this.store = store;
    this.context = context;
    this.tools = tools;
    this.log = log;
  }

  /** Jobs waiting or running. */
  get active(): number {
    return this.running.size;
  }

  /** Starts `record` on its upload; the model is leased until the job ends. */
  start(record: JobRecord, served: ServedModel, info: VideoInfo): void {
    const stop = new AbortController();
    const entry: Running = { stop, done: Promise.resolve() };
    this.running.set(record.id, entry);
    const release = this.context.models.lease(served);
    entry.done = this.run(record, served, info, entry)
      .catch((err: unknown) => this.log.error({ err, job: record.id }, 'video job bookkeeping failed'))
      .finally(() => {
        release();
        this.running.delete(record.id);
      });
  }

  private async run(record: JobRecord, served: ServedModel, info: VideoInfo, entry: Running): Promise<void> {
    const { config, inference } = this.context;
    const { params } = record;
    const partial = (name: string) => this.store.file(record.id, `${name}.partial`);
    record.status = 'running';
    record.startedAt = new Date().toISOString();
    await this.store.save(record);
    const frameProbe = { format: 'raw', width: info.width, height: info.height };
    const plan = planSegment(frameProbe, params.size, { format: 'overlay', overlayFormat: 'png', alpha: params.alpha, rle: params.rle }, served, config);
    const cost = plan.cost + videoFrameBytes(info.width, info.height);
    let savedAt = 0;
    try {
      await segmentVideo({
        tools: this.tools,
        file: this.store.file(record.id, JOB_FILES.upload),
        info,
        name: record.name,
        sampling: { fps: params.fps, every: params.every, maxFrames: params.maxFrames },
        videos: [{ format: params.format, file: partial(JOB_FILES.result) }],
        jsonl: partial(JOB_FILES.frames),
        signal: entry.stop.signal,
        segment: async (frame) => {
          const answer = await inference.segment(
            {
              modelId: served.model.id,
              bytes: frame.image.data,
              pixels: { width: frame.image.width, height: frame.image.height },
              size: params.size,
              maxPixels: config.maxPixels,
              output: { format: 'overlay', alpha: params.alpha, overlayFormat: 'png', rle: params.rle },
              frame: { format: params.format, alpha: params.alpha, rle: params.rle },
            },
            {
              ...queuePlacement(served, { cost, forward: plan.forward }, config.workers),
              deadline: performance.now() + config.requestTimeoutMs,
              timeoutMs: config.requestTimeoutMs,
              signal: entry.stop.signal,
            },
          );
          if (!answer.body || !answer.frameClasses) throw new TypeError('the runner answered a video frame without its picture');
          return { pictures: [answer.body], line: { frame: frame.index, time: frameTime(frame.time), classes: answer.frameClasses } };
        },
        onFrame: async (_frame, _result, progress) => {
          record.frames = { done: progress.done, total: progress.total };
          record.fps = progress.fps;
          record.etaSeconds = progress.etaSeconds;
          if (performance.now() - savedAt > SAVE_EVERY_MS) {
            savedAt = performance.now();
            await this.store.save(record);
          }
        },
      });
      await rename(partial(JOB_FILES.result), this.store.file(record.id, JOB_FILES.result));
      await rename(partial(JOB_FILES.frames), this.store.file(record.id, JOB_FILES.frames));
      this.store.finish(record, 'succeeded', undefined);
    } catch (err) {
      await rm(partial(JOB_FILES.result), { force: true });
      await rm(partial(JOB_FILES.frames), { force: true });
      const why = entry.reason ?? (err instanceof Error ? err.message : String(err));
      this.store.finish(record, 'failed', `${why} (after ${record.frames.done} of ${record.frames.total} frames)`);
    } finally {
      await rm(this.store.file(record.id, JOB_FILES.upload), { force: true });
    }
    await this.store.save(record);
  }

  /** Stops a job at its next frame boundary (if running) and removes it with its files. */
  async remove(id: string): Promise<void> {
    const entry = this.running.get(id);
    if (entry) {
      entry.reason = 'cancelled';
      entry.stop.abort();
      await entry.done;
    }
    await this.store.remove(id);
  }

  /** Shutdown: every running job stops at a frame boundary and is recorded as failed with the reason. */
  async close(reason = 'the server shut down while the job ran'): Promise<void> {
    for (const entry of this.running.values()) {
      entry.reason = reason;
      entry.stop.abort();
    }
    await Promise.all([...this.running.values()].map((entry) => entry.done));
    this.store.close();
  }
}
