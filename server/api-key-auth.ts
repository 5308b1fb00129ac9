import fp from 'fastify-plugin';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { apiKeyVerifier } from './api-keys.js';
import { authenticate } from './auth-failures.js';
import { HttpProblem } from './problems.js';

/**
 * Optional API keys (CITYSEG_API_KEYS): every route of the scope that registers this plugin needs
 * `Authorization: Bearer <key>`; otherwise 401 problem+json with `WWW-Authenticate: Bearer` (RFC 6750). The API
 * routes' scope registers it (server/api-scope.ts), and /metrics' own scope when CITYSEG_METRICS_AUTH=true; the
 * probes, the web page and /docs live outside. Wrong keys are limited per address (server/auth-failures.ts). Keys are
 * never logged: the request log serializer writes method and URL only, and no message here repeats what the client
 * sent. Wrapped with fastify-plugin: its hook applies to the registering scope.
 */
const apiKeyAuthPlugin: FastifyPluginAsync = async (app) => {
  const { apiKeys } = app.config;
  if (apiKeys === undefined) return;
  const verifier = apiKeyVerifier(apiKeys);

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const presented = request.headers.authorization !== undefined;
    authenticate(app.authFailures, request, {
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
  });
};

export const apiKeyAuth = fp(apiKeyAuthPlugin, { name: 'cityseg-api-key-auth', dependencies: ['cityseg-config', 'cityseg-auth-failures'] });
