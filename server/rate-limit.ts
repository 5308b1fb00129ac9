import fp from 'fastify-plugin';
import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { clientOf } from './client-share.js';
import { HttpProblem } from './problems.js';

/**
 * Optional rate limit on every route of the registering scope (CITYSEG_RATE_LIMIT_MAX requests per
 * CITYSEG_RATE_LIMIT_WINDOW_MS) with @fastify/rate-limit: per API key when the request carries a valid one, else per
 * client address (behind a proxy that is the proxy's). Over the limit: 429 problem+json with `Retry-After` in
 * seconds. The API scope registers it before the API-key hook, so failed key guesses count against the guesser's
 * address (server/api-scope.ts).
 */
const rateLimitPlugin: FastifyPluginAsync = async (app) => {
  const { rateLimitMax, rateLimitWindowMs, apiKeys } = app.config;
  if (rateLimitMax === 0) return;

  await app.register(rateLimit, {
    // Not per route: one hook on the scope (below), so it runs before the scope's own API-key hook.
    global: false,
    max: rateLimitMax,
    timeWindow: rateLimitWindowMs,
    keyGenerator: (request: FastifyRequest) => clientOf(request, apiKeys),
    errorResponseBuilder: (_request, context) => {
      const retryAfterSeconds = Math.max(1, Math.ceil(context.ttl / 1000));
      return new HttpProblem(
        'too-many-requests',
        `more than ${context.max} requests in ${rateLimitWindowMs} ms from this client; retry in ${retryAfterSeconds} s`,
        retryAfterSeconds,
      );
    },
  });
  app.addHook('onRequest', app.rateLimit());
};

export const apiRateLimit = fp(rateLimitPlugin, { name: 'cityseg-rate-limit', dependencies: ['cityseg-config'] });
