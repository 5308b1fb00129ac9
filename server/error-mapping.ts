import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ImageDecodeError, ImageTooLargeError, InvalidArgumentError, type ImageDecodeErrorCode } from '../segmentation/errors.js';
import { MemoryLimitError, QueueClosedError, QueueFullError, QueueRejection, QueueTimeoutError } from './inference-queue.js';
import { HttpProblem, PROBLEM_FORM, sendProblem, type ErrorForm, type ProblemKind } from './problems.js';

const DECODE_ERROR_KINDS: Record<ImageDecodeErrorCode, ProblemKind> = {
  IMAGE_EMPTY: 'empty-body',
  IMAGE_NOT_RECOGNISED: 'unsupported-media-type',
  IMAGE_UNSUPPORTED_FORMAT: 'unsupported-media-type',
  IMAGE_CORRUPT: 'unprocessable-image',
};

/** Fastify error codes that are the client's doing. */
const FASTIFY_ERROR_KINDS: Record<string, ProblemKind> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload-too-large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported-media-type',
  FST_ERR_CTP_EMPTY_TYPE: 'unsupported-media-type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad-parameter',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'empty-body',
  FST_PROTO_VIOLATION: 'bad-parameter',
};

const QUEUE_KINDS: [new (...args: never[]) => QueueRejection, ProblemKind][] = [
  [QueueFullError, 'queue-full'],
  [QueueTimeoutError, 'queue-timeout'],
  [QueueClosedError, 'shutting-down'],
];

/** A 4xx status Fastify attached to an error we have no table entry for → the nearest problem kind. */
function kindForStatus(status: number): ProblemKind {
  if (status === 404) return 'not-found';
  if (status === 405) return 'method-not-allowed';
  if (status === 413) return 'payload-too-large';
  if (status === 415) return 'unsupported-media-type';
  return 'bad-parameter';
}

/**
 * A schema validation failure in words that name the parameter and what it may be: Ajv's own messages say neither
 * for an unknown parameter ("must NOT have additional properties") or a value outside a list.
 */
function validationDetail(error: FastifyError): string {
  const first = error.validation?.[0];
  const context = error.validationContext ?? 'request';
  const params = (first?.params ?? {}) as { additionalProperty?: string; allowedValues?: unknown[] };
  if (first?.keyword === 'additionalProperties' && params.additionalProperty !== undefined) {
    return `${context}/${params.additionalProperty} is not a parameter of this route (a misspelling?)`;
  }
  if (first?.keyword === 'enum' && Array.isArray(params.allowedValues)) {
    return `${context}${first.instancePath} must be one of: ${params.allowedValues.join(', ')}`;
  }
  return error.message ?? 'invalid request';
}

/**
 * Any error thrown while answering a request → the problem to answer with. Client mistakes map to
 * 4xx; only what is left (a bug, a broken model) becomes a 500 whose detail hides internals.
 */
export function problemFor(error: unknown): HttpProblem {
  if (error instanceof HttpProblem) return error;
  if (error instanceof ImageDecodeError) return new HttpProblem(DECODE_ERROR_KINDS[error.code], error.message);
  if (error instanceof ImageTooLargeError) return new HttpProblem('image-too-large', error.message);
  if (error instanceof InvalidArgumentError) return new HttpProblem('bad-parameter', error.message);
  if (error instanceof MemoryLimitError) return new HttpProblem('memory-limit', error.message);
  for (const [type, kind] of QUEUE_KINDS) {
    if (error instanceof type) return new HttpProblem(kind, error.message, error.retryAfterSeconds);
  }
  const fastifyError = error as Partial<FastifyError> | undefined;
  if (fastifyError?.validation) return new HttpProblem('bad-parameter', validationDetail(fastifyError as FastifyError));
  const tableKind = fastifyError?.code ? FASTIFY_ERROR_KINDS[fastifyError.code] : undefined;
  if (tableKind) return new HttpProblem(tableKind, fastifyError?.message ?? tableKind);
  const status = fastifyError?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new HttpProblem(kindForStatus(status), fastifyError?.message ?? `HTTP ${status}`);
  }
  return new HttpProblem('internal-error', 'the server failed to answer this request; see its log for the request id');
}

/**
 * A Fastify error handler answering every error as its problem in `form`; set at the root (problem+json) and in the
 * Open Inference Protocol's scope (its `{"error"}`), so hooks, routes and plugins just throw.
 */
export function problemErrorHandler(form: ErrorForm = PROBLEM_FORM) {
  return (error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const problem = problemFor(error);
    // Only bugs get a stack in the log; client mistakes and 503s are on the request line already.
    if (problem.kind === 'internal-error') request.log.error({ err: error }, 'request failed');
    return sendProblem(reply, problem, form);
  };
}
