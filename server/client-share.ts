import fp from 'fastify-plugin';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { apiKeyVerifier, type ApiKeys } from './api-keys.js';
import { HttpProblem } from './problems.js';

/** Seconds a client over its share is told to wait: one of its own requests is usually answered by then. */
const RETRY_AFTER_SECONDS = 1;

/**
 * Who a request comes from, for the limits that count per client (the rate limit, the in-flight share): the API
 * key's id when the request carries a valid one, else `address:<ip>` (behind a proxy, the proxy's address).
 */
export function clientOf(request: FastifyRequest, apiKeys: ApiKeys | undefined): string {
  return (apiKeys === undefined ? null : apiKeyVerifier(apiKeys).verifyRequest(request)) ?? `address:${request.ip}`;
}

export interface ClientShareOptions {
  /** Requests one client may have in flight (CITYSEG_CLIENT_IN_FLIGHT_LIMIT on the image routes); 0 = no share. */
  limit: number;
  /** What the scope's requests are and the setting of `limit`, for the 429's detail; default the image routes'. */
  counts?: { what: string; setting: string };
}

/**
 * A share of the image requests in flight per client: a request arriving while its client already has `limit`
 * of them in flight (receiving, waiting, running, or its answer being written) is answered 429 problem+json with
 * Retry-After from its headers, before admission counts it, and its connection closes after the answer. Without
 * it, one address holding header-only connections (announcing a large body, or `Expect: 100-continue`) took every
 * place under the in-flight cap (CITYSEG_QUEUE_LIMIT + running) and everyone else got 503. Register it on the image
 * routes' scope before admission (server/admission.ts), so its hook runs first; the video upload route registers its
 * own (CITYSEG_JOB_CLIENT_UPLOADS), counted apart.
 */
const clientSharePlugin: FastifyPluginAsync<ClientShareOptions> = async (app, options) => {
  if (options.limit === 0) return;
  const counts = options.counts ?? { what: 'image requests', setting: 'CITYSEG_CLIENT_IN_FLIGHT_LIMIT' };
  const inFlight = new Map<string, number>();

  app.addHook('onRequest', async (request, reply) => {
    const client = clientOf(request, app.config.apiKeys);
    const held = inFlight.get(client) ?? 0;
    if (held >= options.limit) {
      reply.header('connection', 'close');
      throw new HttpProblem(
        'too-many-requests',
        `this client already has ${held} ${counts.what} in flight, the most one client may have (${counts.setting}); retry once one is answered`,
        RETRY_AFTER_SECONDS,
      );
    }
    inFlight.set(client, held + 1);
    reply.raw.once('close', () => {
      const left = (inFlight.get(client) ?? 1) - 1;
      if (left === 0) inFlight.delete(client);
      else inFlight.set(client, left);
    });
  });
};

export const clientShare = fp(clientSharePlugin, { name: 'cityseg-client-share', dependencies: ['cityseg-config'] });
