import type { IncomingMessage, RequestListener } from 'node:http';
import { TurnPacer } from './turn-pacer.js';

/**
 * Requests handed to the application in one turn of the event loop. Node parses every readable socket in one
 * poll phase and would hand each request to Fastify there and then, about 1 ms apiece on the main thread (hooks,
 * admission, a refusal written): 400 connections sending their headers at once put 200 requests in one turn, a
 * 100-170 ms stall that /healthz waited out. At this figure a turn spends some 16 ms on new requests.
 */
export const REQUESTS_PER_TURN = 16;

/** Paths of the probes a kubelet or load balancer polls: answered in the turn they arrive, never queued. */
export const PROBE_PATHS = {
  liveness: '/healthz',
  readiness: '/readyz',
  oipLive: '/v2/health/live',
  oipReady: '/v2/health/ready',
} as const;

const probePaths = new Set<string>(Object.values(PROBE_PATHS));

const ARRIVAL = Symbol('cityseg.arrival');

/** performance.now() when the request's headers were parsed (the gate's stamp); now if it never passed a gate. */
export function arrivalOf(request: IncomingMessage): number {
  return (request as IncomingMessage & { [ARRIVAL]?: number })[ARRIVAL] ?? performance.now();
}

/** Whether a request is a health or readiness probe (GET or HEAD of a probe path, any query). */
export function isProbe(request: IncomingMessage): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  const url = request.url ?? '';
  const query = url.indexOf('?');
  return probePaths.has(query === -1 ? url : url.slice(0, query));
}

/**
 * Wraps a Node request listener (Fastify's, through its `serverFactory`) so that at most `perTurn` requests reach
 * it per turn of the event loop, first come first served (a waiting request's body stays in its socket: Node stops
 * reading once the request's stream is full). Probes go straight through, so a burst of work never delays them
 * by more than the turn in progress. A request whose client has gone while it waited is dropped. Each request is
 * stamped with its arrival time (arrivalOf): the whole-request deadline counts the wait.
 */
export function gateRequests(handler: RequestListener, perTurn = REQUESTS_PER_TURN): RequestListener {
  const pacer = new TurnPacer(perTurn);
  return (request, response) => {
    (request as IncomingMessage & { [ARRIVAL]?: number })[ARRIVAL] = performance.now();
    if (isProbe(request)) return handler(request, response);
    pacer.defer(() => {
      if (!request.socket.destroyed) handler(request, response);
    });
  };
}
