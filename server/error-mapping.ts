import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { errorRow, problemKindOf } from './error-table.js';
import { HttpProblem, PROBLEM_FORM, sendProblem, type ErrorForm, type ProblemKind } from './problems.js';

/** Fastify error codes that are the client's doing. */
const FASTIFY_ERROR_KINDS: Record<string, ProblemKind> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload-too-large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported-media-type',
  FST_ERR_CTP_EMPTY_TYPE: 'unsupported-media-type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad-parameter',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'empty-body',
  FST_PROTO_VIOLATION: 'bad-parameter',
};

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
 * Any error thrown while answering a request → the problem to answer with: the error table's kind for its class
 * (server/error-table.ts), Fastify's own errors by code or status; only what is left (a bug, a broken model)
 * becomes a 500 whose detail hides internals.
 */
export function problemFor(error: unknown): HttpProblem {
  if (error instanceof HttpProblem) return error;
  const entry = errorRow(error);
  const kind = entry && problemKindOf(entry, error as Error);
  if (kind !== undefined) return new HttpProblem(kind, (error as Error).message, (error as { retryAfterSeconds?: number }).retryAfterSeconds);
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
