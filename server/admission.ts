import { Transform, type TransformCallback } from 'node:stream';
import fp from 'fastify-plugin';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { lingerAfterAnswer } from './lingering-close.js';
import { arrivalOf } from './request-gate.js';
import { TurnPacer } from './turn-pacer.js';
import { HttpProblem, PROBLEM_CONTENT_TYPE } from './problems.js';

/**
 * Bounds every image request before and while its body arrives (issue 9):
 * - at the headers: too many image requests in flight, or no memory left for the body → 503 with Retry-After
 *   at once, the body not kept (the connection closes after the answer, lingering: server/lingering-close.ts);
 * - while the body arrives: a pause longer than `bodyIdleTimeoutMs`, an average rate under `bodyMinRate` after
 *   a grace period, or the request's deadline → 408;
 * - the whole request, from arrival to the last byte of the answer, within `requestTimeoutMs`: unanswered at
 *   the deadline → 503; an answer still being written to a slow reader → the connection is destroyed.
 * Registered on the image routes' scope with fastify-plugin, so its hooks apply to that scope.
 */

/** Longest time a body may take before its average rate is checked (shorter when the idle timeout is). */
const RATE_GRACE_MS = 5_000;
/**
 * Body chunks (64 KiB reads) taken in per turn of the event loop, across every upload being received or discarded:
 * a turn's reads stay near 1 MiB however many clients send at once (a hundred uploads arriving at loopback speed
 * filled turns of 30-40 ms one chunk per socket at a time). Ingest is then bounded by the turn rate, some hundreds of
 * MB/s, far above what inference consumes.
 */
export const BODY_CHUNKS_PER_TURN = 16;
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
  bodyIdleTimeoutMs: number;
  bodyMinRate: number;
  bodyLimit: number;
  /** Reserves body bytes from the memory budget; false when they do not fit now. */
  reserve: (bytes: number) => boolean;
  release: (bytes: number) => void;
  /** Seconds after which a refused client should try again. */
  retryAfterSeconds: () => number;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** performance.now() time by which the whole answer must have been sent. */
    deadline: number;
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

/** Passes the body through while enforcing its idle timeout, minimum rate and the request's deadline. */
class BodyGuard extends Transform {
  private received = 0;
  private readonly started = performance.now();
  private readonly idleTimer: NodeJS.Timeout;
  private readonly deadlineTimer: NodeJS.Timeout;
  private readonly options: AdmissionOptions;

  private readonly source: NodeJS.ReadableStream & { receivedEncodedLength?: number };

  private readonly pacer: TurnPacer;

  constructor(options: AdmissionOptions, deadline: number, source: NodeJS.ReadableStream, pacer: TurnPacer) {
    super();
    this.options = options;
    this.pacer = pacer;
    this.source = source;
    this.idleTimer = this.armIdle();
    this.deadlineTimer = setTimeout(
      () => this.fail(`the request was not complete within ${options.requestTimeoutMs} ms of its arrival`),
      Math.max(0, deadline - performance.now()),
    );
  }

  /**
   * Fastify compares Content-Length with this when a stream before us decoded a Content-Encoding (the decoded
   * bytes differ in number from the bytes on the wire); undefined lets it count the bytes we pass on.
   */
  get receivedEncodedLength(): number | undefined {
    return this.source.receivedEncodedLength;
  }

  private armIdle(): NodeJS.Timeout {
    return setTimeout(
      () => this.fail(`no request body bytes arrived for ${this.options.bodyIdleTimeoutMs} ms`),
      this.options.bodyIdleTimeoutMs,
    );
  }

  private fail(detail: string): void {
    this.stop();
    this.destroy(new HttpProblem('request-timeout', detail));
  }

  private stop(): void {
    clearTimeout(this.idleTimer);
    clearTimeout(this.deadlineTimer);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.received += chunk.length;
    const elapsed = performance.now() - this.started;
    const { bodyMinRate } = this.options;
    const grace = Math.min(RATE_GRACE_MS, this.options.bodyIdleTimeoutMs);
    if (bodyMinRate > 0 && elapsed > grace && (this.received * 1000) / elapsed < bodyMinRate) {
      this.stop();
      callback(new HttpProblem('request-timeout', `the request body arrived slower than ${bodyMinRate} bytes/s`));
      return;
    }
    // Re-armed in place: a 20 MiB body is some 300 chunks, each otherwise a new timer on the main thread.
    this.idleTimer.refresh();
    // Passed on when the pacer gives this chunk its turn: the stream's backpressure stops the socket's reads
    // meanwhile, so a hundred uploads arriving at loopback speed cannot hold the loop (and /healthz) for a burst.
    this.pacer.defer(() => callback(null, chunk));
  }

  override _flush(callback: TransformCallback): void {
    this.stop();
    callback();
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    this.stop();
    callback(error);
  }
}

const admissionPlugin: FastifyPluginAsync<AdmissionOptions> = async (app, options) => {
  let inFlight = 0;
  const chunks = new TurnPacer(BODY_CHUNKS_PER_TURN);

  app.addHook('onRequest', async (request, reply) => {
    request.deadline = arrivalOf(request.raw) + options.requestTimeoutMs;
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
    // Chunked bodies are charged the limit.
    const bodyBytes = Number.isFinite(declared) && declared >= 0 ? Math.min(declared, options.bodyLimit) : options.bodyLimit;
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

  app.addHook('preParsing', async (request: FastifyRequest, reply, payload) => {
    const guard = new BodyGuard(options, request.deadline, payload, chunks);
    // Fastify stops listening once it has answered (e.g. 413 mid-body): a late timeout must not become an
    // uncaught 'error', and the guard's timers end with the request.
    guard.on('error', () => undefined);
    payload.on('error', (error) => guard.destroy(error));
    reply.raw.once('close', () => guard.destroy());
    return payload.pipe(guard);
  });

  // An answer sent before the body was read to the end closes the connection instead of reading the rest, after
  // a bounded linger so the client reads its answer rather than a reset.
  app.addHook('onSend', async (request, reply) => {
    if (request.raw.complete) return;
    reply.header('connection', 'close');
    lingerAfterAnswer(request.raw, options.bodyLimit, chunks);
  });
};

export const admission = fp(admissionPlugin, { name: 'cityseg-admission' });
