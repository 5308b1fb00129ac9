import fp from 'fastify-plugin';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { apiKeyVerifier } from './api-keys.js';
import { authenticate } from './auth-failures.js';
import { isApiRoute } from './api-routes.js';
import { HttpProblem } from './problems.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** true/false forces a route in or out of API-key authentication; absent → the API prefix rule decides. */
    apiKey?: boolean;
  }
}

/** The route served by the metrics plugin, keyed only when CITYSEG_METRICS_AUTH=true. */
const METRICS_ROUTE = '/metrics';

/**
 * Optional API keys (CITYSEG_API_KEYS): every API route (/v1/..., see api-routes.ts), and /metrics when
 * CITYSEG_METRICS_AUTH=true, needs `Authorization: Bearer <key>`; otherwise 401 problem+json with
 * `WWW-Authenticate: Bearer` (RFC 6750). /healthz, /readyz, the web page and /docs stay open. The hook is added to
 * each route as it is registered, so register this plugin before the routes. Wrong keys are limited per address
 * (server/auth-failures.ts). Keys are never logged: the request
 * log serializer writes method and URL only, and no message here repeats what the client sent.
 */
const apiKeyAuthPlugin: FastifyPluginAsync = async (app) => {
  const { apiKeys, metricsAuth } = app.cityseg.config;
  if (apiKeys === undefined) return;
  const verifier = apiKeyVerifier(apiKeys);

  const requireApiKey = async (request: FastifyRequest, reply: FastifyReply) => {
    const presented = request.headers.authorization !== undefined;
    authenticate(app.cityseg.authFailures, request, {
      realm: 'api-key',
      presented,
      valid: verifier.verifyRequest(request) !== null,
      refusal: () => {
        reply.header('www-authenticate', presented ? 'Bearer realm="cityseg", error="invalid_token"' : 'Bearer realm="cityseg"');
        return new HttpProblem(
          'unauthorized',
          presented ? 'the API key is not valid (Authorization: Bearer <key>)' : 'this route needs an API key: send Authorization: Bearer <key>',
        );
      },
    });
  };

  app.addHook('onRoute', (route) => {
    const keyed = route.config?.apiKey ?? (isApiRoute(route.url) || (metricsAuth && route.url === METRICS_ROUTE));
    if (!keyed) return;
    const existing: onRequestHookHandler[] = route.onRequest === undefined ? [] : [route.onRequest].flat();
    route.onRequest = [...existing, requireApiKey];
  });
  app.log.info({ keys: apiKeys.sha256.length, file: apiKeys.file, metricsAuth }, 'API keys required on the API routes');
};

export const apiKeyAuth = fp(apiKeyAuthPlugin, { name: 'cityseg-api-key-auth' });
