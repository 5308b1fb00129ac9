import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyLoggerOptions, FastifyReply, FastifyRequest } from 'fastify';
import type { LogLevel } from './config.js';

export const REQUEST_ID_HEADER = 'x-request-id';

/** Ids a client may choose: short and log-safe (no spaces, quotes or control characters). */
const CLIENT_REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;

/** Keeps the caller's `X-Request-Id` when it is log-safe, else mints a UUID. */
export function requestIdFor(request: IncomingMessage): string {
  const header = request.headers[REQUEST_ID_HEADER];
  const given = Array.isArray(header) ? header[0] : header;
  return given !== undefined && CLIENT_REQUEST_ID.test(given) ? given : randomUUID();
}

/** What the image routes learnt about a request, for its single log line. */
export interface RequestLogFacts {
  model?: string;
  imageWidth?: number;
  imageHeight?: number;
  inferenceMs?: number;
}

export function loggerOptions(level: LogLevel, stream?: NodeJS.WritableStream): FastifyLoggerOptions & { level: string } {
  return {
    level,
    ...(stream ? { stream: stream as FastifyLoggerOptions['stream'] } : {}),
    // The per-request line carries its own fields; only keep pino's defaults for errors.
    serializers: {
      req: (req) => ({ method: req.method, url: req.url }),
    },
  };
}

/** The one log line per answered request: id (pino's reqId binding), route, status, latency, image, model. */
export function logRequestCompleted(request: FastifyRequest, reply: FastifyReply, facts: RequestLogFacts): void {
  request.log.info(
    {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status: reply.statusCode,
      latencyMs: Math.round(reply.elapsedTime * 100) / 100,
      ...facts,
    },
    'request completed',
  );
}
