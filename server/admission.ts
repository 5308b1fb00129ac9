import { Transform, type TransformCallback } from 'node:stream';
import fp from 'fastify-plugin';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { InferenceQueue } from './inference-queue.js';
import type { MemoryBudget } from './memory-budget.js';
import { HttpProblem } from './problems.js';

/**
 * Admits every image request from its headers:
 * - a Content-Length over the body limit → 413; too many image requests in flight, or no memory left for the
 *   body's first chunk → 503 with Retry-After at once, the body not kept (the connection closes after the answer,
 *   lingering: server/body-limits.ts);
 * - the body is charged to the memory budget as its (decoded) bytes arrive, not as announced: connections that
 *   announce 20 MiB and send nothing hold one chunk's charge each, not 40 MiB; a body whose next bytes find no room
 *   → 503 with Retry-After;
 * - the answer's bytes are held in the budget until the response is finished or abandoned: a client reading its
 *   answer slowly keeps it in this process's memory, and later requests must see that;
 * - the whole request, from arrival to the last byte of the answer, within `requestTimeoutMs`: unanswered at
 *   the deadline → 503; an answer still being written to a slow reader → the connection is destroyed.
 * The body's own time limits are server/body-limits.ts's, on every route. Registered on the image routes' scope
 * with fastify-plugin, so its hooks apply to that scope.
 */

/** Body bytes are charged twice: the received chunks and the joined copy exist together for a moment. */
const BODY_COPIES = 2;
/** What a body is charged before its first byte: one read of the socket (64 KiB), or the whole body if smaller. */
const FIRST_CHARGE = 64 * 1024;
/**
 * Copies of an answer held until it is sent: a Buffer is written as it is; a string (a JSON answer) is encoded into
 * a second buffer for the socket while the string lives.
 */
const ANSWER_COPIES = { buffer: 1, string: 2 } as const;

export interface AdmissionOptions {
  /**
   * The inference queue: its capacity rule counts the image requests in flight (receiving, waiting or running),
   * and its Retry-After estimate answers a refusal.
   */
  queue: Pick<InferenceQueue<unknown, unknown>, 'isFull' | 'limit' | 'concurrency' | 'retryAfterSeconds'>;
  /** Body bytes are reserved from it as they arrive; answers are held in it until sent. */
  budget: Pick<MemoryBudget, 'tryReserve' | 'hold' | 'release'>;
  requestTimeoutMs: number;
  bodyLimit: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** When inference must have finished: the deadline less a margin to encode and send the answer. */
    inferenceDeadline: number;
    /** Bytes this request holds in the memory budget (its body as received, then its answer); released at close. */
    admissionCharge: { bytes: number };
  }
}

/** Time kept between the inference deadline and the whole request's: the 503 must still reach the client. */
export function sendMarginMs(requestTimeoutMs: number): number {
  return Math.min(250, requestTimeoutMs * 0.1);
}

function refuseNow(reply: FastifyReply, problem: HttpProblem): FastifyReply {
  // The body is not read: closing the connection after the answer stops the client from sending it.
  void reply.code(problem.status).header('connection', 'close');
  // The scope's error handler answers it, in the scope's error form.
  return reply.send(problem);
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
    const { queue, budget } = options;
    if (queue.isFull(inFlight)) {
      const detail = `inference queue is full (${queue.limit} waiting, ${queue.concurrency} running)`;
      return refuseNow(reply, new HttpProblem('queue-full', detail, queue.retryAfterSeconds()));
    }
    // Only the first chunk is charged from the headers; the rest as it arrives (preParsing below). Coded bodies are
    // charged as they decode, so a 200 KB gzip that decodes to the limit is charged the limit by then.
    const announced = Number.isFinite(declared) && declared >= 0 ? Math.min(declared, options.bodyLimit) : options.bodyLimit;
    const first = Math.min(announced, FIRST_CHARGE) * BODY_COPIES;
    if (!budget.tryReserve(first)) {
      return refuseNow(
        reply,
        new HttpProblem('queue-full', 'the memory budget has no room for this request body now', queue.retryAfterSeconds()),
      );
    }
    request.admissionCharge = { bytes: first };
    inFlight += 1;
    let released = false;
    const done = () => {
      if (released) return;
      released = true;
      inFlight -= 1;
      budget.release(request.admissionCharge.bytes);
      clearTimeout(wholeRequest);
    };
    // The whole request's deadline: unanswered → 503; answer still being written → the connection goes.
    const wholeRequest = setTimeout(() => {
      // While the body still arrives, the body guard answers 408 at this same deadline.
      if (!reply.sent && request.raw.complete) {
        reply.header('connection', 'close');
        reply.send(new HttpProblem('queue-timeout', `no answer within ${options.requestTimeoutMs} ms of the request's arrival`, queue.retryAfterSeconds()));
      } else if (reply.sent && !reply.raw.writableFinished) {
        reply.raw.destroy();
      }
    }, Math.max(0, request.deadline - performance.now()));
    reply.raw.once('close', done);
  });

  app.addHook('preParsing', async (request, _reply, payload) => {
    const meter = new BodyCharge(request.admissionCharge, options);
    payload.on('error', (error) => meter.destroy(error));
    // A decoded body's wire length, which Fastify checks against Content-Length, is the decoder's to tell.
    const coded = payload as typeof payload & { receivedEncodedLength?: number };
    if (coded.receivedEncodedLength !== undefined) Object.defineProperty(meter, 'receivedEncodedLength', { get: () => coded.receivedEncodedLength });
    return payload.pipe(meter);
  });

  // The answer stays in this process until the client has read it: held until the response closes (done above).
  app.addHook('onSend', async (request, _reply, payload) => {
    const charge = request.admissionCharge;
    if (charge === undefined) return payload;
    let bytes = 0;
    if (typeof payload === 'string') bytes = Buffer.byteLength(payload) * ANSWER_COPIES.string;
    else if (payload instanceof Uint8Array) bytes = payload.byteLength * ANSWER_COPIES.buffer;
    options.budget.hold(bytes);
    charge.bytes += bytes;
    return payload;
  });
};

/**
 * Charges body bytes as they pass (after any content decoding), beyond what the headers' first charge covered;
 * bytes that find no room in the budget fail the body with a 503.
 */
class BodyCharge extends Transform {
  private received = 0;
  private readonly charge: { bytes: number };
  private readonly options: AdmissionOptions;

  constructor(charge: { bytes: number }, options: AdmissionOptions) {
    super();
    this.charge = charge;
    this.options = options;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.received += chunk.length;
    const owed = this.received * BODY_COPIES - this.charge.bytes;
    if (owed > 0) {
      if (!this.options.budget.tryReserve(owed)) {
        const detail = `the memory budget has no room for the rest of this request body now (${this.received} bytes received)`;
        callback(new HttpProblem('queue-full', detail, this.options.queue.retryAfterSeconds()));
        return;
      }
      this.charge.bytes += owed;
    }
    callback(null, chunk);
  }
}

export const admission = fp(admissionPlugin, { name: 'cityseg-admission' });
