import fp from 'fastify-plugin';
import type { FastifyPluginAsync } from 'fastify';

const UNMATCHED_ROUTE = 'unmatched';

/**
 * Counts every request (by route template, so unknown URLs do not explode label cardinality)
 * and serves the app's Prometheus registry at /metrics. Wrapped with fastify-plugin so the
 * hooks see the routes of every other plugin.
 */
const metricsPlugin: FastifyPluginAsync = async (app) => {
  const { metrics } = app.cityseg;

  // The response's 'close' fires exactly once, whether it was sent or the client vanished mid-request.
  app.addHook('onRequest', async (_request, reply) => {
    metrics.inFlight.inc();
    reply.raw.once('close', () => metrics.inFlight.dec());
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
    metrics.requests.inc({ method: request.method, route, status: String(reply.statusCode), model: request.logFacts?.model ?? '' });
    metrics.requestSeconds.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });

  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics (text exposition format)',
        produces: ['text/plain'],
        response: { 200: { type: 'string', description: 'Prometheus text format 0.0.4' } },
      },
    },
    async (_request, reply) => {
      const body = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(body);
    },
  );
};

export const metricsRoutes = fp(metricsPlugin, { name: 'cityseg-metrics' });
