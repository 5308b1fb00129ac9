import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { outsideFastifyAnswer } from './framework-errors.js';
import { HttpProblem } from './problems.js';
import { TurnPacer } from './turn-pacer.js';

/**
 * Requests handed to the application in one turn of the event loop. Node parses every readable socket in one
 * poll phase and would hand each request to Fastify there and then, about 1 ms apiece on the main thread (hooks,
 * admission, a refusal written): 400 connections sending their headers at once put 200 requests in one turn, a
 * 100-170 ms stall that /healthz waited out. At this figure a turn spends some 16 ms on new requests.
 */
export const REQUESTS_PER_TURN = 16;

/**
 * Requests one connection may have sent and not yet seen answered (HTTP/1.1 pipelining). Node parses every
 * request in what it reads and keeps each one's request and response objects until it is answered in order: 20
 * connections pipelining 200,000 requests each took 3.4 GB and the event loop for minutes.
 */
export const PIPELINE_DEPTH = 32;

/** Paths of the probes a kubelet or load balancer polls: answered in the turn they arrive, never queued. */
export const PROBE_PATHS = {
  liveness: '/healthz',
  readiness: '/readyz',
  oipLive: '/v2/health/live',
  oipReady: '/v2/health/ready',
} as const;

const probePaths = new Set<string>(Object.values(PROBE_PATHS));

const ARRIVAL = Symbol('cityseg.arrival');
const ORDINAL = Symbol('cityseg.ordinal');

/** A connection's requests received and not yet answered, and since when it has had none. */
export interface ConnectionActivity {
  unanswered: number;
  idleSince: number;
  /** Requests the gate has received on the connection so far. */
  received: number;
}

const activity = new WeakMap<Socket, ConnectionActivity>();

/**
 * What the gate has seen on `socket` (kept by gateRequests; read by the idle drain, server/connection-pressure.ts).
 * A connection no request has reached yet is idle since its first look-up.
 */
export function activityOf(socket: Socket): ConnectionActivity {
  let state = activity.get(socket);
  if (state === undefined) {
    state = { unanswered: 0, idleSince: performance.now(), received: 0 };
    activity.set(socket, state);
  }
  return state;
}

/** performance.now() when the request's headers were parsed (the gate's stamp); now if it never passed a gate. */
export function arrivalOf(request: IncomingMessage): number {
  return (request as IncomingMessage & { [ARRIVAL]?: number })[ARRIVAL] ?? performance.now();
}

/**
 * Whether no later request has been received on `request`'s connection (none pipelined behind it): closing the
 * connection after its answer then drops no answer Node has queued.
 */
export function isLatestOnConnection(request: IncomingMessage): boolean {
  const ordinal = (request as IncomingMessage & { [ORDINAL]?: number })[ORDINAL];
  return ordinal === undefined || ordinal === activityOf(request.socket).received;
}

/** Whether a request is a health or readiness probe (GET or HEAD of a probe path, any query). */
export function isProbe(request: IncomingMessage): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  const url = request.url ?? '';
  const query = url.indexOf('?');
  return probePaths.has(query === -1 ? url : url.slice(0, query));
}

/**
 * The answer to a request past PIPELINE_DEPTH on its connection: 429 problem+json, then the connection closes
 * (after the answers before it, in order). Requests the client pipelined after it get no answer: RFC 9112 §9.3.2
 * has the client retry those.
 */
function refusePipelined(response: ServerResponse): void {
  const problem = new HttpProblem('too-many-requests', `more than ${PIPELINE_DEPTH} requests were sent on one connection without waiting for their answers`, 1);
  const { headers, body } = outsideFastifyAnswer(problem);
  response.writeHead(problem.status, headers).end(body);
}

/**
 * Wraps a Node request listener (Fastify's, through its `serverFactory`) so that at most `perTurn` requests reach
 * it per turn of the event loop, first come first served (a waiting request's body stays in its socket: Node stops
 * reading once the request's stream is full). Probes go straight through, so a burst of work never delays them
 * by more than the turn in progress. A request whose client has gone while it waited is dropped. Each request is
 * stamped with its arrival time (arrivalOf): the whole-request deadline counts the wait. A connection with
 * PIPELINE_DEPTH requests unanswered gets a 429 for the next and is closed after it (refusePipelined).
 */
export function gateRequests(handler: RequestListener, perTurn = REQUESTS_PER_TURN): RequestListener {
  const pacer = new TurnPacer(perTurn);
  /** Requests read on a connection after its 429, which closes it: never handled. */
  const ignored = new WeakMap<Socket, number>();
  return (request, response) => {
    (request as IncomingMessage & { [ARRIVAL]?: number })[ARRIVAL] = performance.now();
    const socket = request.socket;
    const after = ignored.get(socket);
    if (after !== undefined) {
      // Node goes on parsing what it has read (and reads on as earlier answers finish): past PIPELINE_DEPTH more,
      // the connection is cut, so a pipeline cannot make it hold more.
      ignored.set(socket, after + 1);
      if (after + 1 >= PIPELINE_DEPTH) socket.destroy();
      return;
    }
    const state = activityOf(socket);
    if (state.unanswered >= PIPELINE_DEPTH) {
      ignored.set(socket, 0);
      refusePipelined(response);
      return;
    }
    state.unanswered += 1;
    state.received += 1;
    (request as IncomingMessage & { [ORDINAL]?: number })[ORDINAL] = state.received;
    response.once('close', () => {
      state.unanswered -= 1;
      state.idleSince = performance.now();
    });
    if (isProbe(request)) return handler(request, response);
    pacer.defer(() => {
      if (!socket.destroyed) handler(request, response);
    });
  };
}
