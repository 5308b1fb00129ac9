import fp from 'fastify-plugin';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { isOipUrl, OIP_ERROR_FORM } from './oip/errors.js';
import { HttpProblem, PROBLEM_FORM, sendProblem } from './problems.js';
import { ERROR_RESPONSE_HEADERS } from './security-headers.js';

/** Seconds a client is told to wait when it reaches a server that is shutting down (another replica will answer). */
export const CLOSING_RETRY_AFTER_SECONDS = 1;

/** Node's HTTP parser error → the problem to answer with (Node's own defaults: 431, 408, else 400). */
export function clientErrorProblem(error: NodeJS.ErrnoException): HttpProblem {
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    return new HttpProblem('header-fields-too-large', 'the request line and header fields are larger than the server accepts (16 KiB)');
  }
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return new HttpProblem('request-timeout', 'the request was not received in time');
  return new HttpProblem('bad-parameter', `the request is not valid HTTP/1.1 (${error.code ?? 'parse error'})`);
}

/**
 * Headers and body of a problem answered outside Fastify (its hooks never ran): problem+json, `Retry-After` when the
 * problem has one, the connection closing, and the headers that keep an error body from being sniffed or framed.
 */
export function outsideFastifyAnswer(problem: HttpProblem): { headers: Record<string, string>; body: string } {
  const body = JSON.stringify(PROBLEM_FORM.body(problem));
  const headers: Record<string, string> = {
    'content-type': `${PROBLEM_FORM.contentType}; charset=utf-8`,
    'content-length': String(Buffer.byteLength(body)),
    connection: 'close',
    ...ERROR_RESPONSE_HEADERS,
  };
  if (problem.retryAfterSeconds !== undefined) headers['retry-after'] = String(problem.retryAfterSeconds);
  return { headers, body };
}

/**
 * Fastify's `clientErrorHandler`: requests Node's HTTP parser rejects before Fastify sees them (header fields over
 * --max-http-header-size, a malformed request line, a request timeout) get a problem+json answer, written straight
 * to the socket as Node does, then the connection is closed (the parser cannot continue on it).
 */
export function problemClientErrorHandler(this: FastifyInstance, error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  // A socket already answered and half-closed (a lingering close whose client then ended mid-body) has nothing to
  // be told: hundreds of those at once must not each build a problem.
  if (socket.writable) {
    const problem = clientErrorProblem(error);
    this.log.debug({ code: error.code, status: problem.status }, 'client error');
    const { headers, body } = outsideFastifyAnswer(problem);
    const head = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
    socket.write(`HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status]}\r\n${head}\r\n${body}`);
  }
  socket.destroy(error);
}

/**
 * Fastify's `frameworkErrors`: a URL that cannot be decoded (`/%zz`) or an over-long path parameter, as problems
 * (under /v2 in the Open Inference Protocol's `{"error"}` form, as every /v2 error).
 */
export function problemFrameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const problem =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? new HttpProblem('uri-too-long', 'a path segment is longer than the server accepts')
      : new HttpProblem('bad-parameter', error.code === 'FST_ERR_BAD_URL' ? 'the URL is not validly percent-encoded' : error.message);
  void reply.headers(ERROR_RESPONSE_HEADERS);
  sendProblem(reply, problem, isOipUrl(request.url) ? OIP_ERROR_FORM : PROBLEM_FORM);
}

/**
 * While the server closes: readiness fails; a request arriving on a still-open keep-alive connection is answered
 * 503 `shutting-down` problem+json with Retry-After (in place of Fastify's plain-JSON `return503OnClosing`, which
 * app.ts turns off); requests already in flight finish normally, and their answers end their keep-alive connection
 * (the server only finishes closing once every connection is gone, and an idle keep-alive socket would hold it open).
 */
const closingPlugin: FastifyPluginAsync = async (app) => {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
    app.readiness.markNotReady('the server is shutting down');
  });
  app.addHook('onRequest', async (_request, reply) => {
    if (!closing) return;
    reply.header('connection', 'close');
    throw new HttpProblem('shutting-down', 'the server is shutting down: retry, another replica will answer', CLOSING_RETRY_AFTER_SECONDS);
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });
};

export const closingProblems = fp(closingPlugin, { name: 'cityseg-closing-problems', dependencies: ['cityseg-readiness'] });
