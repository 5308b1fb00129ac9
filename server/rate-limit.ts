import fp from 'fastify-plugin';
import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { apiKeyVerifier } from './api-keys.js';
import { isApiRoute } from './api-routes.js';
import { clientOf } from './client-share.js';
import { HttpProblem } from './problems.js';

/**
 * Optional rate limit on the API routes (CITYSEG_RATE_LIMIT_MAX requests per CITYSEG_RATE_LIMIT_WINDOW_MS) with
 * @fastify/rate-limit: per API key when the request carries a valid one, else per client address (behind a proxy
 * that is the proxy's). Over the limit: 429 problem+json with `Retry-After` in seconds. Registered before the API
 * key plugin so its hook runs first: failed key guesses count against the guesser's address.
 */
const rateLimitPlugin: FastifyPluginAsync = async (app) => {
  const { rateLimitMax, rateLimitWindowMs, apiKeys } = app.cityseg.config;
  if (rateLimitMax === 0) return;
  const verifier = apiKeys === undefined ? undefined : apiKeyVerifier(apiKeys);

  await app.register(rateLimit, {
    global: true,
    hook: 'onRequest',
    max: rateLimitMax,
    timeWindow: rateLimitWindowMs,
    allowList: (request: FastifyRequest) => !isApiRoute(request.routeOptions.url),
    keyGenerator: (request: FastifyRequest) => clientOf(request, verifier),
    errorResponseBuilder: (_request, context) => {
      const retryAfterSeconds = Math.max(1, Math.ceil(context.ttl / 1000));
      return new HttpProblem(
        'too-many-requests',
        `more than ${context.max} requests in ${rateLimitWindowMs} ms from this client; retry in ${retryAfterSeconds} s`,
        retryAfterSeconds,
      );
    },
  });
};

export const apiRateLimit = fp(rateLimitPlugin, { name: 'cityseg-rate-limit' });
