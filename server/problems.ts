import type { FastifyReply } from 'fastify';

/** RFC 9457 problem details: the body of every error the service answers. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Kinds of problem the API reports, by slug: the status and the title clients can match on. */
export const PROBLEM_KINDS = {
  'bad-parameter': { status: 400, title: 'Bad parameter' },
  'unknown-model': { status: 400, title: 'Unknown model' },
  'unauthorized': { status: 401, title: 'Unauthorized' },
  'not-found': { status: 404, title: 'Not found' },
  'method-not-allowed': { status: 405, title: 'Method not allowed' },
  'request-timeout': { status: 408, title: 'Request timeout' },
  'conflict': { status: 409, title: 'Conflict' },
  'payload-too-large': { status: 413, title: 'Payload too large' },
  'memory-limit': { status: 413, title: 'Request exceeds the memory budget' },
  'image-too-large': { status: 413, title: 'Image too large' },
  'uri-too-long': { status: 414, title: 'URI too long' },
  'unsupported-media-type': { status: 415, title: 'Unsupported media type' },
  'range-not-satisfiable': { status: 416, title: 'Range not satisfiable' },
  'expectation-failed': { status: 417, title: 'Expectation failed' },
  'unprocessable-image': { status: 422, title: 'Unprocessable image' },
  'unprocessable-video': { status: 422, title: 'Unprocessable video' },
  'unprocessable-models-file': { status: 422, title: 'Models file cannot be served' },
  'empty-body': { status: 422, title: 'Empty body' },
  'too-many-requests': { status: 429, title: 'Too many requests' },
  'header-fields-too-large': { status: 431, title: 'Request header fields too large' },
  'queue-full': { status: 503, title: 'Server busy' },
  'queue-timeout': { status: 503, title: 'Request timed out waiting for inference' },
  'not-ready': { status: 503, title: 'Service not ready' },
  'shutting-down': { status: 503, title: 'Service shutting down' },
  'internal-error': { status: 500, title: 'Internal server error' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemKind = keyof typeof PROBLEM_KINDS;

export function problemType(kind: ProblemKind): string {
  return `urn:cityseg:problem:${kind}`;
}

/** An error that maps straight onto a problem response; `retryAfterSeconds` becomes `Retry-After`. */
export class HttpProblem extends Error {
  readonly status: number;

  readonly kind: ProblemKind;
  readonly detail: string;
  readonly retryAfterSeconds?: number;
  constructor(
    kind: ProblemKind,
    detail: string,
    retryAfterSeconds?: number,
  ) {
    super(detail);
    this.kind = kind;
    this.detail = detail;
    this.retryAfterSeconds = retryAfterSeconds;
    this.name = 'HttpProblem';
    this.status = PROBLEM_KINDS[kind].status;
  }

  toProblem(): Problem {
    return { type: problemType(this.kind), title: PROBLEM_KINDS[this.kind].title, status: this.status, detail: this.detail };
  }
}

/** The one answer to a request that names a model not served: 404, listing the names that are. */
export function unknownModel(name: string, served: readonly string[]): HttpProblem {
  return new HttpProblem('not-found', `unknown model "${name}" (served: ${served.join(', ') || 'none yet'})`);
}

/** How an answer writes a problem: its media type and body (RFC 9457 problem+json, or a protocol's own error form). */
export interface ErrorForm {
  contentType: string;
  body: (problem: HttpProblem) => unknown;
}

/** RFC 9457 problem+json: the form of every error outside the Open Inference Protocol's /v2 scope. */
export const PROBLEM_FORM: ErrorForm = { contentType: PROBLEM_CONTENT_TYPE, body: (problem) => problem.toProblem() };

/**
 * Answers `problem` on `reply`: its status, `Retry-After` when it has one, and its body in `form`. Every problem
 * Fastify answers is written here (the error handlers and framework errors); headers set before (WWW-Authenticate,
 * Connection) stay.
 */
export function sendProblem(reply: FastifyReply, problem: HttpProblem, form: ErrorForm = PROBLEM_FORM): FastifyReply {
  if (problem.retryAfterSeconds !== undefined) void reply.header('retry-after', String(problem.retryAfterSeconds));
  return reply.code(problem.status).type(form.contentType).send(form.body(problem));
}

/** JSON schema of a problem body, shared by every route's error responses and the OpenAPI document. */
export const problemSchema = {
  $id: 'Problem',
  type: 'object',
  description: 'RFC 9457 problem details',
  required: ['type', 'title', 'status', 'detail'],
  properties: {
    type: { type: 'string', description: 'URN naming the kind of problem, e.g. urn:cityseg:problem:bad-parameter' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string', description: 'What exactly was wrong (parameter, field, image)' },
  },
} as const;
