import fp from 'fastify-plugin';
import cors from '@fastify/cors';
import type { FastifyPluginAsync } from 'fastify';

/** Response headers a browser script on an allowed origin may read (the image routes' metadata, Retry-After). */
const EXPOSED_HEADERS = ['X-Request-Id', 'X-Model', 'X-Inference-Ms', 'X-Mask-Width', 'X-Mask-Height', 'Retry-After'];

/**
 * CORS with @fastify/cors, off unless CITYSEG_CORS_ORIGINS lists origins: then only those origins get
 * `Access-Control-Allow-Origin` (exactly their own), preflights for GET and POST are answered, and no credentials
 * (cookies) are allowed; API keys travel in the Authorization header, which preflight allows.
 */
const corsPlugin: FastifyPluginAsync = async (app) => {
  const origins = app.config.corsOrigins;
  if (origins === undefined) return;
  await app.register(cors, {
    origin: origins,
    methods: ['GET', 'HEAD', 'POST'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Content-Encoding', 'Accept', 'X-Request-Id'],
    exposedHeaders: EXPOSED_HEADERS,
    credentials: false,
    maxAge: 600,
  });
};

export const corsAllowList = fp(corsPlugin, { name: 'cityseg-cors', dependencies: ['cityseg-config'] });
