import fp from 'fastify-plugin';
import type { FastifyPluginAsync } from 'fastify';

const UNMATCHED_ROUTE = 'unmatched';

/**
 * Counts every request (by route template, so unknown URLs do not explode label cardinality). Wrapped with
 * fastify-plugin and registered at the root: its hooks see the routes of every other plugin.
 */
const requestMetricsPlugin: FastifyPluginAsync = async (app) => {
  const { metrics } = app;

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
};

export const requestMetrics = fp(requestMetricsPlugin, { name: 'cityseg-request-metrics', dependencies: ['cityseg-metrics', 'cityseg-request-logging'] });

/** GET /metrics: the app's Prometheus registry (public, or in a keyed scope when CITYSEG_METRICS_AUTH=true). */
const metricsRoutePlugin: FastifyPluginAsync = async (app) => {
  const { metrics } = app;
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

export const metricsRoute = fp(metricsRoutePlugin, { name: 'cityseg-metrics-route', dependencies: ['cityseg-metrics'], encapsulate: true });
