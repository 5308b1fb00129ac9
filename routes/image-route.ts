import type { FastifyReply, FastifyRequest } from 'fastify';
import { clientGoneSignal } from '../server/client-gone.js';
import type { InferenceSubmit } from '../server/inference.js';
import type { ModelTask } from '../model/loaded-model.js';
import { queuePlacement, type ServedModel } from '../server/model-registry.js';
import { HttpProblem, PROBLEM_CONTENT_TYPE } from '../server/problems.js';

/** Shared pieces of the image routes (segment, classify): parameters, documented errors, model lookup. */

export const modelQueryParam = {
  type: 'string',
  minLength: 1,
  maxLength: 128,
  description: 'Model name from GET /v1/models (default: the task\'s default model: the one marked default, else its first)',
} as const;

const problem = (description: string) => ({
  description,
  content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: 'Problem#' } } },
});

export const IMAGE_ERROR_RESPONSES = {
  400: problem('Bad parameter, or a model of the other task'),
  404: problem('No model of that name (the detail lists the names)'),
  413: problem('Body over the size limit, or image over the pixel limit'),
  415: problem('Unsupported content type, or the bytes are not an image format'),
  422: problem('Empty body, or a truncated/corrupt image'),
  503: problem('Queue full, timed out waiting for inference, or not ready (see Retry-After)'),
} as const;

/**
 * Concrete image types listed before the rest: Swagger UI's "Try it out" sends the first listed type as the
 * Content-Type, and a literal `image/*` is a range, not a type a client should send.
 */
export const DOCUMENTED_IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/bmp', 'image/tiff', 'image/gif', 'image/avif'] as const;

const binaryBody = { schema: { type: 'string', format: 'binary' } } as const;

/** The request body as documented in OpenAPI (not validated by schema: the handler checks it). */
export const IMAGE_UPLOAD_BODY = {
  content: {
    ...Object.fromEntries(DOCUMENTED_IMAGE_TYPES.map((type) => [type, binaryBody])),
    'application/octet-stream': binaryBody,
    'multipart/form-data': {
      schema: {
        type: 'object',
        required: ['image'],
        properties: { image: { type: 'string', format: 'binary', description: 'The image file' } },
      },
    },
  },
};

/** Media types the image routes accept (swagger's `consumes`; the docs plugin adds IMAGE_UPLOAD_BODY). */
export const IMAGE_CONSUMES = ['image/*', 'application/octet-stream', 'multipart/form-data'];

/**
 * How an image request's job enters the inference queue: its memory (the forward pass running in the model's
 * arena, one per worker thread), the request's inference deadline, and the signal of a vanishing client.
 */
export function admissionOf(
  request: FastifyRequest,
  reply: FastifyReply,
  served: ServedModel,
  plan: { cost: number; forward: number },
): InferenceSubmit {
  const { config } = request.server;
  return {
    ...queuePlacement(served, plan, config.workers),
    deadline: request.inferenceDeadline,
    timeoutMs: config.requestTimeoutMs,
    signal: clientGoneSignal(reply),
  };
}

/**
 * The model for a request (ModelRegistry.resolve: 404 for an unknown name, 400 for the other task's), leased until
 * the response ends so a reload releases it only after this request; 503 while models are still loading.
 */
export function requireModel(request: FastifyRequest, reply: FastifyReply, task: ModelTask, id: string | undefined): ServedModel {
  const { models, readiness } = request.server;
  if (models.list().length === 0) {
    throw new HttpProblem('not-ready', readiness.notReadyReason ?? 'no model is loaded', 5);
  }
  const served = models.resolve(task, id);
  reply.raw.once('close', models.lease(served));
  request.logFacts.model = served.model.id;
  return served;
}

/** What an inference answer tells about itself: the image's size, stage times, the batch it ran in. */
export interface InferenceFacts {
  width: number;
  height: number;
  timings: { inferenceMs: number; queueMs?: number };
  batchSize?: number;
}

/**
 * The headers every inference answer carries (/v1 and /v2): the model that made it and whether it was trained, so
 * an API-only client can tell a seeded untrained model's meaningless answer (`X-Model-Trained: false`).
 */
export function modelHeaders(served: ServedModel): { 'x-model': string; 'x-model-trained': string } {
  return { 'x-model': served.model.id, 'x-model-trained': String(served.model.weights.trained) };
}

/** The request line's facts and the inference metrics of one answered job (every image route, /v1 and /v2). */
export function recordInference(request: FastifyRequest, served: ServedModel, answer: InferenceFacts): void {
  const { id, task } = served.model;
  const { metrics } = request.server;
  request.logFacts = { model: id, imageWidth: answer.width, imageHeight: answer.height, inferenceMs: Math.round(answer.timings.inferenceMs * 100) / 100 };
  metrics.inferenceSeconds.observe({ model: id, task }, answer.timings.inferenceMs / 1000);
  metrics.queueWaitSeconds.observe({ model: id, task }, (answer.timings.queueMs ?? 0) / 1000);
  metrics.batchSize.observe({ model: id }, answer.batchSize ?? 1);
}
