import fp from 'fastify-plugin';
import type { FastifyPluginAsync } from 'fastify';
import { OIP_ERROR_CONTENT_TYPE, oipError } from '../../server/oip/errors.js';
import { PROBLEM_CONTENT_TYPE, type Problem } from '../../server/problems.js';

/**
 * Every error under /v2 in the protocol's form: whatever answered with a problem+json body (a route, the API-key
 * and rate-limit hooks, admission's 503s, the error handler) is rewritten to `{"error": detail}` as
 * application/json, keeping the status and headers (Retry-After, WWW-Authenticate). Triton's and KServe's clients
 * read `error`; the problem's `detail` is the same sentence /v1 answers. Wrapped with fastify-plugin: it applies to
 * the scope that registers it.
 */
const errorFormPlugin: FastifyPluginAsync = async (app) => {
  app.addHook('onSend', async (_request, reply, payload) => {
    const type = reply.getHeader('content-type');
    if (typeof type !== 'string' || !type.startsWith(PROBLEM_CONTENT_TYPE) || typeof payload !== 'string') return payload;
    let detail: string;
    try {
      detail = (JSON.parse(payload) as Problem).detail ?? payload;
    } catch {
      detail = payload;
    }
    reply.type(OIP_ERROR_CONTENT_TYPE);
    return JSON.stringify(oipError({ detail }));
  });
};

export const oipErrorForm = fp(errorFormPlugin, { name: 'cityseg-oip-error-form' });
