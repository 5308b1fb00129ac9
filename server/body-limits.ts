import { Transform, type TransformCallback } from 'node:stream';
import fp from 'fastify-plugin';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { lingerAfterAnswer } from './lingering-close.js';
import { HttpProblem } from './problems.js';
import { arrivalOf } from './request-gate.js';
import { TurnPacer } from './turn-pacer.js';

/**
 * Time and pace limits of every request body, on every route:
 * - each request's deadline is its arrival plus `requestTimeoutMs` (the image routes' admission answers by it;
 *   the video upload route sets its own, CITYSEG_JOB_UPLOAD_TIMEOUT_MS);
 * - while a body arrives: a pause longer than `bodyIdleTimeoutMs`, an average rate under `bodyMinRate` after a
 *   grace period, or the deadline → 408; the bytes are taken in as the shared pacer gives them turns;
 * - an answer sent before its body was read to the end (a 404 for a POST, a 413, a 503 from the headers) closes
 *   the connection after a lingering, paced discard of the rest (server/lingering-close.ts) instead of Node reading
 *   the rest at full speed for the next request.
 * Registered at the root with fastify-plugin and before any body decoder: the guard meters bytes as they arrive on
 * the wire, and its hooks cover the 404 handler too.
 */

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Fails every body still arriving with `problem` (a shutdown whose budget is nearly spent: the client gets it
     * instead of a 408 at its request deadline); each connection then lingers at most `lingerMs`. Returns how many.
     */
    cutBodies: (problem: () => HttpProblem, lingerMs: number) => number;
  }
  interface FastifyRequest {
    /** performance.now() time by which the whole answer must have been sent. */
    deadline: number;
    /** Gives each body chunk (received, discarded or decoded) its turn of the event loop. */
    bodyPacer: TurnPacer;
  }
}

export interface BodyLimitsOptions {
  requestTimeoutMs: number;
  bodyIdleTimeoutMs: number;
  bodyMinRate: number;
  /** The most a refused client's remaining body is read for (a refusal may not cost more than an acceptance). */
  bodyLimit: number;
}

/** Longest time a body may take before its average rate is checked (shorter when the idle timeout is). */
const RATE_GRACE_MS = 5_000;
/**
 * Body chunks (64 KiB reads) taken in per turn of the event loop, across every body being received or discarded:
 * a turn's reads stay near 1 MiB however many clients send at once (a hundred uploads arriving at loopback speed
 * filled turns of 30-40 ms one chunk per socket at a time). Ingest is then bounded by the turn rate, some hundreds of
 * MB/s, far above what inference consumes.
 */
export const BODY_CHUNKS_PER_TURN = 16;

/** Whether the request announces a body (a length over zero, or chunks). */
export function hasBody(request: FastifyRequest): boolean {
  return Number(request.headers['content-length']) > 0 || request.headers['transfer-encoding'] !== undefined;
}

/** Passes the body through while enforcing its idle timeout, minimum rate and the request's deadline. */
class BodyGuard extends Transform {
  private received = 0;
  private readonly started = performance.now();
  private readonly idleTimer: NodeJS.Timeout;
  private readonly deadlineTimer: NodeJS.Timeout;
  private readonly options: BodyLimitsOptions;
  private readonly pacer: TurnPacer;

  /** `timeoutMs`: the request's deadline less its arrival, for the message. */
  constructor(options: BodyLimitsOptions, deadline: number, timeoutMs: number, pacer: TurnPacer) {
    super();
    this.options = options;
    this.pacer = pacer;
    this.idleTimer = this.armIdle();
    this.deadlineTimer = setTimeout(
      () => this.fail(`the request was not complete within ${timeoutMs} ms of its arrival`),
      Math.max(0, deadline - performance.now()),
    );
  }

  private armIdle(): NodeJS.Timeout {
    return setTimeout(
      () => this.fail(`no request body bytes arrived for ${this.options.bodyIdleTimeoutMs} ms`),
      this.options.bodyIdleTimeoutMs,
    );
  }

  private fail(detail: string): void {
    this.cut(new HttpProblem('request-timeout', detail));
  }

  /** Ends the body with `problem`, which the route's error handling answers. */
  cut(problem: HttpProblem): void {
    this.stop();
    this.destroy(problem);
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

const bodyLimitsPlugin: FastifyPluginAsync<BodyLimitsOptions> = async (app, options) => {
  const chunks = new TurnPacer(BODY_CHUNKS_PER_TURN);
  /** The bodies being received now. */
  const receiving = new Set<BodyGuard>();
  /** The linger left to connections whose body a shutdown cut (cutBodies); the usual one otherwise. */
  let lingerMs: number | undefined;
  app.decorate('cutBodies', (problem: () => HttpProblem, shutdownLingerMs: number) => {
    lingerMs = shutdownLingerMs;
    const cut = [...receiving];
    for (const guard of cut) guard.cut(problem());
    return cut.length;
  });

  app.addHook('onRequest', async (request) => {
    request.deadline = arrivalOf(request.raw) + options.requestTimeoutMs;
    request.bodyPacer = chunks;
  });

  app.addHook('preParsing', async (request, reply, payload) => {
    if (!hasBody(request)) return payload;
    // A route's scope may move the deadline (video uploads have their own) in an onRequest hook of its own.
    const guard = new BodyGuard(options, request.deadline, Math.round(request.deadline - arrivalOf(request.raw)), chunks);
    receiving.add(guard);
    guard.once('close', () => receiving.delete(guard));
    guard.once('end', () => receiving.delete(guard));
    guard.once('finish', () => receiving.delete(guard));
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
    lingerAfterAnswer(request.raw, options.bodyLimit, chunks, lingerMs);
  });
};

export const bodyLimits = fp(bodyLimitsPlugin, { name: 'cityseg-body-limits' });
