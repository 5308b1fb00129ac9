import fp from 'fastify-plugin';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { contentCodings } from './content-encoding.js';
import { HttpProblem, PROBLEM_CONTENT_TYPE } from './problems.js';

/**
 * Admits every image request from its headers (issue 9):
 * - a Content-Length over the body limit → 413; too many image requests in flight, or no memory left for the
 *   body → 503 with Retry-After at once, the body not kept (the connection closes after the answer, lingering:
 *   server/body-limits.ts);
 * - the whole request, from arrival to the last byte of the answer, within `requestTimeoutMs`: unanswered at
 *   the deadline → 503; an answer still being written to a slow reader → the connection is destroyed.
 * The body's own time limits are server/body-limits.ts's, on every route. Registered on the image routes' scope
 * with fastify-plugin, so its hooks apply to that scope.
 */

/** Body bytes are charged twice: the received chunks and the joined copy exist together for a moment. */
const BODY_COPIES = 2;

export interface AdmissionOptions {
  /** Image requests allowed to wait for inference (CITYSEG_QUEUE_LIMIT). */
  queueLimit: number;
  /**
   * Image requests running at once, read at each request: the queue's own figure, which a models-file reload
   * changes. With queueLimit, the most in flight (receiving, waiting or running).
   */
  concurrency: () => number;
  requestTimeoutMs: number;
  bodyLimit: number;
  /** Reserves body bytes from the memory budget; false when they do not fit now. */
  reserve: (bytes: number) => boolean;
  release: (bytes: number) => void;
  /** Seconds after which a refused client should try again. */
  retryAfterSeconds: () => number;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** When inference must have finished: the deadline less a margin to encode and send the answer. */
    inferenceDeadline: number;
  }
}

/** Time kept between the inference deadline and the whole request's: the 503 must still reach the client. */
export function sendMarginMs(requestTimeoutMs: number): number {
  return Math.min(250, requestTimeoutMs * 0.1);
}

function refuseNow(reply: FastifyReply, problem: HttpProblem): FastifyReply {
  // The body is not read: closing the connection after the answer stops the client from sending it.
  void reply.code(problem.status).header('connection', 'close');
  if (problem.retryAfterSeconds !== undefined) void reply.header('retry-after', String(problem.retryAfterSeconds));
  return reply.type(PROBLEM_CONTENT_TYPE).send(problem.toProblem());
}

const admissionPlugin: FastifyPluginAsync<AdmissionOptions> = async (app, options) => {
  let inFlight = 0;

  app.addHook('onRequest', async (request, reply) => {
    // request.deadline is set by server/body-limits.ts, registered at the root.
    request.inferenceDeadline = request.deadline - sendMarginMs(options.requestTimeoutMs);
    const declared = Number(request.headers['content-length']);
    // A body that can never be taken is the client's mistake whatever the load: 413 before any queue-full 503.
    if (declared > options.bodyLimit) {
      const detail = `the request body (Content-Length ${declared} bytes) is larger than the server accepts (${options.bodyLimit} bytes)`;
      return refuseNow(reply, new HttpProblem('payload-too-large', detail));
    }
    const running = options.concurrency();
    if (inFlight >= options.queueLimit + running) {
      const detail = `inference queue is full (${options.queueLimit} waiting, ${running} running)`;
      return refuseNow(reply, new HttpProblem('queue-full', detail, options.retryAfterSeconds()));
    }
    // Chunked bodies are charged the limit, and so are coded ones: a gzip of 200 KB decodes to the limit, and 40
    // of them charged at their wire size took 1.4 GB the budget never saw.
    const coded = contentCodings(request.headers['content-encoding'] ?? '').length > 0;
    const bodyBytes = !coded && Number.isFinite(declared) && declared >= 0 ? Math.min(declared, options.bodyLimit) : options.bodyLimit;
    const charge = bodyBytes * BODY_COPIES;
    if (!options.reserve(charge)) {
      return refuseNow(
        reply,
        new HttpProblem('queue-full', 'the memory budget has no room for this request body now', options.retryAfterSeconds()),
      );
    }
    inFlight += 1;
    let released = false;
    const done = () => {
      if (released) return;
      released = true;
      inFlight -= 1;
      options.release(charge);
      clearTimeout(wholeRequest);
    };
    // The whole request's deadline: unanswered → 503; answer still being written → the connection goes.
    const wholeRequest = setTimeout(() => {
      // While the body still arrives, the body guard answers 408 at this same deadline.
      if (!reply.sent && request.raw.complete) {
        reply.header('connection', 'close');
        reply.send(new HttpProblem('queue-timeout', `no answer within ${options.requestTimeoutMs} ms of the request's arrival`, options.retryAfterSeconds()));
      } else if (reply.sent && !reply.raw.writableFinished) {
        reply.raw.destroy();
      }
    }, Math.max(0, request.deadline - performance.now()));
    reply.raw.once('close', done);
  });
};

export const admission = fp(admissionPlugin, { name: 'cityseg-admission' });
