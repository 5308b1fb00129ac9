/**
 * Asynchronous video jobs: POST /v1/jobs streams a video to disk, probes it with ffprobe before any work and
 * answers 202 with its Location; GET /v1/jobs/{id} reports progress; …/result is the segmented MP4 (Range
 * requests answered), …/frames.jsonl one line per frame; DELETE cancels and removes.
 */
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { defaultCacheDir } from '../model/weights/source.js';
import type { InferenceSize } from '../segmentation/preprocess.js';
import { VIDEO_FORMATS, type VideoFormat } from '../segmentation/video/frame.js';
import { probeVideo, type VideoInfo } from '../segmentation/video/probe.js';
import { findVideoTools, type VideoTools } from '../segmentation/video/tools.js';
import { VideoJobs } from '../server/jobs/runner.js';
import { clientShare } from '../server/client-share.js';
import { CLOSING_RETRY_AFTER_SECONDS } from '../server/framework-errors.js';
import { JOB_FILES, JobStore, type JobRecord } from '../server/jobs/store.js';
import { checkUploadType, receiveUpload, VIDEO_FIELD, ACCEPTED_VIDEO_TYPES } from '../server/jobs/upload.js';
import { inferenceSizeOf } from '../server/model-registry.js';
import { HttpProblem, PROBLEM_CONTENT_TYPE } from '../server/problems.js';
import { planSegment } from '../server/request-plan.js';
import { arrivalOf } from '../server/request-gate.js';
import { modelQueryParam, requireModel } from './image-route.js';
import { byteRanges } from './byte-ranges.js';
import { trainedSchema } from './schemas.js';
import { rm, stat } from 'node:fs/promises';

interface JobQuery {
  format: VideoFormat;
  size?: InferenceSize;
  alpha: number;
  rle: boolean;
  model?: string;
  fps?: number;
  every?: number;
  maxFrames?: number;
}

/** Highest sampling rate a job may ask for, frames per second (above any video's rate ffmpeg would duplicate frames). */
const MAX_SAMPLING_FPS = 240;

const problem = (description: string) => ({ description, content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: 'Problem#' } } } });

const jobSchema = {
  $id: 'VideoJob',
  type: 'object',
  required: ['id', 'status', 'frames', 'fps', 'etaSeconds', 'createdAt', 'video', 'links'],
  properties: {
    id: { type: 'string', description: '128 random bits, base64url' },
    status: { type: 'string', enum: ['queued', 'running', 'succeeded', 'failed'] },
    model: { type: 'string' },
    trained: trainedSchema,
    format: { type: 'string', enum: VIDEO_FORMATS },
    frames: { type: 'object', required: ['done', 'total'], properties: { done: { type: 'integer' }, total: { type: 'integer' } } },
    fps: { type: 'number', description: 'Frames segmented per second so far' },
    etaSeconds: { type: 'number', description: 'Seconds left at that rate' },
    video: {
      type: 'object',
      description: 'The upload as ffprobe read it (width and height as displayed, after rotation)',
      properties: {
        width: { type: 'integer' },
        height: { type: 'integer' },
        rotation: { type: 'integer' },
        codec: { type: 'string' },
        frames: { type: 'integer' },
        rate: { type: 'string' },
        durationSeconds: { type: 'number' },
        variableFrameRate: { type: 'boolean' },
      },
    },
    createdAt: { type: 'string', format: 'date-time' },
    startedAt: { type: 'string', format: 'date-time' },
    finishedAt: { type: 'string', format: 'date-time' },
    expiresAt: { type: 'string', format: 'date-time', description: 'When a finished job and its results are removed' },
    error: { type: 'string', description: 'Why a failed job failed' },
    links: {
      type: 'object',
      properties: { self: { type: 'string' }, result: { type: 'string' }, frames: { type: 'string' } },
    },
  },
} as const;

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } } as const;

/** The body of GET /v1/jobs/{id}. */
function view(job: JobRecord) {
  const self = `/v1/jobs/${job.id}`;
  return {
    id: job.id,
    status: job.status,
    model: job.params.model,
    ...(job.params.trained === undefined ? {} : { trained: job.params.trained }),
    format: job.params.format,
    frames: job.frames,
    fps: Math.round(job.fps * 100) / 100,
    etaSeconds: Math.round(job.etaSeconds * 10) / 10,
    video: job.video,
    createdAt: job.createdAt,
    ...(job.startedAt ? { startedAt: job.startedAt } : {}),
    ...(job.finishedAt ? { finishedAt: job.finishedAt } : {}),
    ...(job.expiresAt ? { expiresAt: job.expiresAt } : {}),
    ...(job.error ? { error: job.error } : {}),
    links: { self, result: `${self}/result`, frames: `${self}/frames.jsonl` },
  };
}

export const jobsRoutes: FastifyPluginAsync = async (app) => {
  app.addSchema(jobSchema);
  const context = app;
  const { config } = context;
  let tools: VideoTools | undefined;
  let toolsProblem = '';
  try {
    tools = findVideoTools(config);
  } catch (error) {
    toolsProblem = (error as Error).message;
    app.log.warn(`video jobs are off: ${toolsProblem}`);
  }
  const store = new JobStore(config.jobsDir ?? path.join(config.cacheDir ?? defaultCacheDir(), 'jobs'), config.jobTtlMs);
  await store.open();
  const jobs = tools ? new VideoJobs(store, context, tools, app.log) : undefined;
  // Set at shutdown: an upload still arriving then is answered 503 and deleted, never started as a job nobody stops.
  let closing = false;
  const refuseWhileClosing = () => {
    if (closing) throw new HttpProblem('shutting-down', 'the server began shutting down while the video arrived: upload it again, another replica will answer', CLOSING_RETRY_AFTER_SECONDS);
  };
  // Before the inference queue closes: a running job stops at a frame boundary and is recorded as failed.
  app.addHook('preClose', async () => {
    closing = true;
    app.log.info({ running: jobs?.active ?? 0 }, 'video jobs closing: running jobs stop, uploads still arriving are refused');
    await jobs?.close();
    store.close();
  });
  // The result files are served with Range support, from the job's own folder only.
  await app.register(fastifyStatic, { root: store.dir, serve: false });
  // The body stays a stream: receiveUpload writes it to disk under the jobs' own limit.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { bodyLimit: config.jobUploadLimit }, (_request, payload, done) => done(null, payload));

  const requireJob = (id: string): JobRecord => {
    const job = store.get(id);
    if (!job) throw new HttpProblem('not-found', `no job ${id} (it may have expired or been deleted)`);
    return job;
  };
  const requireTools = (): { tools: VideoTools; jobs: VideoJobs } => {
    if (!tools || !jobs) throw new HttpProblem('not-ready', `video jobs need ffmpeg: ${toolsProblem}`, 60);
    return { tools, jobs };
  };

  // The upload route in its own scope: a video's own deadline in place of an image request's, and a per-client
  // share of uploads arriving at once (each holds a connection and up to CITYSEG_JOB_UPLOAD_LIMIT of disk).
  await app.register(async (uploads) => {
    uploads.addHook('onRequest', async (request) => {
      request.deadline = arrivalOf(request.raw) + config.jobUploadTimeoutMs;
    });
    await uploads.register(clientShare, {
      limit: config.jobClientUploads,
      counts: { what: 'video uploads', setting: 'CITYSEG_JOB_CLIENT_UPLOADS' },
    });
    uploads.post<{ Querystring: JobQuery }>(
      '/v1/jobs',
      {
        bodyLimit: config.jobUploadLimit,
        schema: {
          tags: ['video'],
          summary: 'Start segmenting a video',
          description:
            `Body: the video (${ACCEPTED_VIDEO_TYPES}, multipart field \`${VIDEO_FIELD}\`), streamed to disk and read by ffprobe ` +
            'before any work: over a limit (upload size, frame size, frames, duration) 413, not a video 415, broken 422. ' +
            'Every frame is segmented through the same queue as images, one frame at a time. The result is an H.264 MP4 ' +
            'with the input’s size, frame rate and frame count (audio dropped) and a JSON line per frame.',
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              format: { type: 'string', enum: VIDEO_FORMATS, default: 'overlay', description: 'overlay: colours blended over the video; color: the masks alone' },
              size: {
                description: 'Inference long side in pixels (32..4096), or native; default from the server config',
                anyOf: [{ type: 'integer', minimum: 32, maximum: 4096 }, { type: 'string', enum: ['native'] }],
              },
              alpha: { type: 'number', minimum: 0, maximum: 1, default: 0.5, description: 'Overlay opacity of the colours' },
              rle: { type: 'boolean', default: false, description: 'Add each class’s COCO RLE to the frame lines' },
              model: modelQueryParam,
              fps: {
                type: 'number',
                exclusiveMinimum: 0,
                maximum: MAX_SAMPLING_FPS,
                description: `Segment this many frames per second (default: every frame); at most ${MAX_SAMPLING_FPS}, and enough for one frame of the video (422 below)`,
              },
              every: { type: 'integer', minimum: 1, maximum: config.jobMaxFrames, description: 'Segment every N-th frame (at most CITYSEG_JOB_MAX_FRAMES)' },
              maxFrames: { type: 'integer', minimum: 1, maximum: config.jobMaxFrames, description: 'Segment at most this many frames (at most CITYSEG_JOB_MAX_FRAMES)' },
            },
          },
          consumes: ['video/*', 'image/gif', 'application/octet-stream', 'multipart/form-data'],
          response: {
            202: { description: 'Accepted; Location names the job', headers: { Location: { type: 'string' } }, content: { 'application/json': { schema: { $ref: 'VideoJob#' } } } },
            400: problem('Bad parameter'),
            413: problem('Upload, frame size, frame count or duration over its limit (the detail names the setting)'),
            415: problem('Not a video (text, audio only, unknown format)'),
            422: problem('Empty, truncated or corrupt video, or an fps that samples no frame of it'),
            408: problem('The upload was not complete within CITYSEG_JOB_UPLOAD_TIMEOUT_MS, paused longer than CITYSEG_BODY_IDLE_TIMEOUT_MS or arrived slower than CITYSEG_BODY_MIN_RATE'),
            429: problem('As many jobs running as CITYSEG_JOB_CONCURRENCY allows, or this client has CITYSEG_JOB_CLIENT_UPLOADS uploads arriving (Retry-After)'),
            503: problem('Job store full (CITYSEG_JOB_MAX_STORED), ffmpeg missing, not ready, or the server began shutting down while the upload arrived (Retry-After)'),
          },
        },
      },
      async (request, reply) => {
        const query = request.query;
        // Ajv coerces "1e309" to Infinity and lets it past `maximum`: refused here by name.
        for (const name of ['fps', 'every', 'maxFrames'] as const) {
          const value = query[name];
          if (value !== undefined && !Number.isFinite(value)) throw new HttpProblem('bad-parameter', `querystring/${name} must be a finite number`);
        }
        if (query.fps !== undefined && query.every !== undefined) throw new HttpProblem('bad-parameter', 'querystring/fps and querystring/every both choose frames; give one');
        const { tools: videoTools, jobs: videoJobs } = requireTools();
        if (videoJobs.active >= config.jobConcurrency) {
          const running = store.all().filter((job) => job.status === 'running' || job.status === 'queued');
          const eta = Math.min(...running.map((job) => job.etaSeconds).filter((s) => s > 0), 60);
          throw new HttpProblem('too-many-requests', `${videoJobs.active} video jobs are running, the most CITYSEG_JOB_CONCURRENCY allows`, Math.max(1, Math.ceil(eta)));
        }
        if (store.all().length >= config.jobMaxStored) {
          throw new HttpProblem('queue-full', `${store.all().length} jobs are stored, the most CITYSEG_JOB_MAX_STORED allows: delete one or wait for one to expire`, store.secondsUntilRoom());
        }
        checkUploadType(request.headers['content-type']);
        const declared = Number(request.headers['content-length']);
        if (declared > config.jobUploadLimit) throw new HttpProblem('payload-too-large', `the video upload is ${declared} bytes, over the limit of ${config.jobUploadLimit} (CITYSEG_JOB_UPLOAD_LIMIT)`);
        const served = requireModel(request, reply, 'segmentation', query.model);
        const size = query.size ?? inferenceSizeOf(served, config.inferenceSize);

        const uploadDir = await store.uploadDir();
        let accepted = false;
        try {
          if (!request.body) throw new HttpProblem('empty-body', 'the request body is empty: send the video bytes or a multipart part "video"');
          const upload = await receiveUpload(request.body as NodeJS.ReadableStream as never, request.headers['content-type'], path.join(uploadDir, JOB_FILES.upload), config.jobUploadLimit);
          refuseWhileClosing();
          // A VideoError from the probe is answered by the error table's row (415, 413 or 422).
          const info: VideoInfo = await probeVideo(videoTools, path.join(uploadDir, JOB_FILES.upload), {
            maxPixels: config.maxPixels,
            maxFrames: config.jobMaxFrames,
            maxSeconds: config.jobMaxSeconds,
            sources: { maxPixels: 'CITYSEG_MAX_PIXELS', maxFrames: 'CITYSEG_JOB_MAX_FRAMES', maxSeconds: 'CITYSEG_JOB_MAX_SECONDS' },
          }, upload.name);
          // ffmpeg's fps filter rounds to the nearest output frame: a rate that yields none is refused before any work.
        if (query.fps !== undefined && info.durationSeconds > 0 && Math.round(info.durationSeconds * query.fps) < 1) {
          const least = Math.ceil((0.5 / info.durationSeconds) * 1000) / 1000;
          throw new HttpProblem('unprocessable-video', `querystring/fps ${query.fps} samples no frame of this ${info.durationSeconds} s video: give at least ${least}`);
        }
        // The frame limits of the image path (aspect ratio, network pixels) before any frame runs.
          planSegment({ format: 'raw', width: info.width, height: info.height }, size, { format: 'overlay', overlayFormat: 'png', alpha: query.alpha, rle: query.rle }, served, config);
          const { fps, every, maxFrames } = query;
          const record: JobRecord = {
            id: JobStore.newId(),
            status: 'queued',
            params: { model: served.model.id, trained: served.model.weights.trained, format: query.format, size, alpha: query.alpha, rle: query.rle, fps, every, maxFrames },
            video: {
              width: info.width, height: info.height, rotation: info.rotation, codec: info.codec, frames: info.frames,
              rate: info.rate, fps: info.fps, durationSeconds: info.durationSeconds, variableFrameRate: info.variableFrameRate,
            },
            name: upload.name,
            frames: { done: 0, total: 0 },
            fps: 0,
            etaSeconds: 0,
            createdAt: new Date().toISOString(),
          };
          refuseWhileClosing();
          await store.create(record, uploadDir);
          if (closing) await store.remove(record.id);
          refuseWhileClosing();
          accepted = true;
          videoJobs.start(record, served, info);
          return reply.code(202).header('location', `/v1/jobs/${record.id}`).send(view(record));
        } finally {
          if (!accepted) await rm(uploadDir, { recursive: true, force: true });
        }
      },
    );

  });

  app.get<{ Params: { id: string } }>(
    '/v1/jobs/:id',
    {
      schema: {
        tags: ['video'],
        summary: 'A video job’s status and progress',
        params: idParams,
        response: { 200: { $ref: 'VideoJob#' }, 404: problem('No such job (expired, deleted or never created)') },
      },
    },
    async (request) => view(requireJob(request.params.id)),
  );

  /** A finished job's file, with Range support; 409 naming the job's state before. */
  const sendResult = async (request: FastifyRequest, reply: FastifyReply, id: string, file: string, type: string) => {
    const job = requireJob(id);
    if (job.status !== 'succeeded') {
      const state = job.status === 'failed' ? `failed: ${job.error ?? 'no reason recorded'}` : `${job.status} (${job.frames.done} of ${job.frames.total} frames)`;
      throw new HttpProblem('conflict', `job ${id} has no result: it ${job.status === 'failed' ? '' : 'is '}${state}`);
    }
    // RFC 9110 §14.2 before @fastify/send, which answers both of these 400: a malformed Range is ignored (200 with
    // the whole file), one no byte of the file satisfies is 416 with Content-Range: bytes */size.
    const range = request.headers.range;
    if (range !== undefined) {
      const { size } = await stat(path.join(store.dir, id, file));
      const answer = byteRanges(range, size);
      if (answer === 'ignore') delete request.headers.range;
      if (answer === 'unsatisfiable') {
        reply.header('content-range', `bytes */${size}`);
        throw new HttpProblem('range-not-satisfiable', `Range ${JSON.stringify(range)} selects no byte of the ${size}-byte file`);
      }
    }
    if (job.params.trained !== undefined) reply.header('x-model-trained', String(job.params.trained));
    return reply.header('cache-control', 'private, no-cache').type(type).sendFile(file, path.join(store.dir, id), { acceptRanges: true });
  };
  const fileResponses = (type: string, description: string) => ({
    200: { description, content: { [type]: { schema: { type: 'string', format: 'binary' } } } },
    206: { description: 'The requested byte range', content: { [type]: { schema: { type: 'string', format: 'binary' } } } },
    404: problem('No such job'),
    409: problem('The job has not succeeded (still running, or failed: the detail says why)'),
    416: problem('No byte of the file is in the Range (Content-Range: bytes */size); a malformed Range is ignored'),
  });

  app.get<{ Params: { id: string } }>(
    '/v1/jobs/:id/result',
    { schema: { tags: ['video'], summary: 'The segmented video (H.264 MP4; Range requests supported)', params: idParams, response: fileResponses('video/mp4', 'The MP4') } },
    async (request, reply) => sendResult(request, reply, request.params.id, JOB_FILES.result, 'video/mp4'),
  );
  app.get<{ Params: { id: string } }>(
    '/v1/jobs/:id/frames.jsonl',
    {
      schema: {
        tags: ['video'],
        summary: 'One JSON line per frame: {frame, time, classes: [{index, name, fraction, rle?}]}',
        params: idParams,
        response: fileResponses('application/jsonl', 'The frame lines'),
      },
    },
    async (request, reply) => sendResult(request, reply, request.params.id, JOB_FILES.frames, 'application/jsonl'),
  );
  app.delete<{ Params: { id: string } }>(
    '/v1/jobs/:id',
    {
      schema: {
        tags: ['video'],
        summary: 'Cancel a job (at its next frame) and remove it with its results',
        params: idParams,
        response: { 204: { description: 'Removed', type: 'null' }, 404: problem('No such job') },
      },
    },
    async (request, reply) => {
      const job = requireJob(request.params.id);
      if (jobs) await jobs.remove(job.id);
      else await store.remove(job.id);
      return reply.code(204).send();
    },
  );
};
