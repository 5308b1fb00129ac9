import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import fp from 'fastify-plugin';
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

declare module 'fastify' {
  interface FastifyRequest {
    /** Filled by the image routes; written into the request's single log line. */
    logFacts: RequestLogFacts;
  }
}

/** Decorates requests with `logFacts`, names each answer's request id, and writes one log line per request. */
export const requestLogging = fp(
  async (app) => {
    app.decorateRequest('logFacts', null as never);
    app.addHook('onRequest', async (request, reply) => {
      request.logFacts = {};
      reply.header(REQUEST_ID_HEADER, request.id);
    });
    app.addHook('onResponse', async (request, reply) => logRequestCompleted(request, reply, request.logFacts));
  },
  { name: 'cityseg-request-logging' },
);
