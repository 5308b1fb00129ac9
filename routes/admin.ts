import fp from 'fastify-plugin';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { authenticate } from '../server/auth-failures.js';
import { NoModelsFileError } from '../server/model-repository.js';
import { HttpProblem, PROBLEM_CONTENT_TYPE } from '../server/problems.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest();

/** Whether `authorization` is `Bearer <token>`; both sides hashed first so the comparison's time tells nothing. */
export function bearerMatches(authorization: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return match !== null && timingSafeEqual(sha256(match[1]), sha256(token));
}

const problem = (description: string) => ({ description, content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: 'Problem#' } } } });
const names = { type: 'array', items: { type: 'string' } } as const;

/**
 * POST /v1/admin/reload (registered only when CITYSEG_ADMIN_TOKEN is set): reads the models file again, as SIGHUP
 * does. Its own Bearer token, not the API keys (an API client must not reload models); wrong tokens are limited per
 * address whatever the rate limit says (server/auth-failures.ts). Reloads run one after the other; the answer comes when this one is done.
 */
const adminPlugin: FastifyPluginAsync<{ token: string }> = async (app, { token }) => {
  const requireAdminToken = async (request: FastifyRequest, reply: FastifyReply) => {
    const presented = request.headers.authorization !== undefined;
    authenticate(app.authFailures, request, {
      realm: 'admin-token',
      presented,
      valid: bearerMatches(request.headers.authorization, token),
      refusal: () => {
        reply.header('www-authenticate', presented ? 'Bearer realm="cityseg-admin", error="invalid_token"' : 'Bearer realm="cityseg-admin"');
        return new HttpProblem('unauthorized', presented ? 'the admin token is not valid' : 'this route needs the admin token: send Authorization: Bearer <CITYSEG_ADMIN_TOKEN>');
      },
    });
  };

  app.post(
    '/v1/admin/reload',
    {
      onRequest: requireAdminToken,
      schema: {
        tags: ['operations'],
        summary: 'Reload the models file: new and changed models load and warm before serving, removed ones drain',
        response: {
          200: {
            description: 'The new set serves; what changed, by model name',
            type: 'object',
            required: ['added', 'changed', 'removed', 'kept'],
            properties: { added: names, changed: names, removed: names, kept: names },
          },
          401: problem('Missing or wrong admin token'),
          429: problem('Too many failed authentications from this address'),
          409: problem('No models file is configured'),
          422: problem('The file or a model in it could not be loaded; the previous models keep serving'),
        },
      },
    },
    async () => {
      try {
        return await app.repository.reload();
      } catch (error) {
        if (error instanceof NoModelsFileError) throw new HttpProblem('conflict', error.message);
        throw error;
      }
    },
  );
};

export const adminRoutes = fp(adminPlugin, { name: 'cityseg-admin', dependencies: ['cityseg-auth-failures', 'cityseg-repository'], encapsulate: true });
