import fp from 'fastify-plugin';
import type { FastifyPluginAsync } from 'fastify';
import { HttpProblem, PROBLEM_CONTENT_TYPE } from '../server/problems.js';
import { PROBE_PATHS } from '../server/request-gate.js';

const statusBody = (value: string) =>
  ({ type: 'object', required: ['status'], properties: { status: { type: 'string', const: value } } }) as const;

/** Liveness (the process answers) and readiness (models loaded and warmed, not draining). */
const healthPlugin: FastifyPluginAsync = async (app) => {
  app.get(
    PROBE_PATHS.liveness,
    { schema: { tags: ['health'], summary: 'Liveness: the process is up', response: { 200: statusBody('ok') } } },
    async () => ({ status: 'ok' }),
  );

  app.get(
    PROBE_PATHS.readiness,
    {
      schema: {
        tags: ['health'],
        summary: 'Readiness: models are loaded and warmed and the server is not shutting down',
        response: {
          200: statusBody('ready'),
          503: { description: 'Not ready', content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: 'Problem#' } } } },
        },
      },
    },
    async () => {
      const reason = app.readiness.notReadyReason;
      if (reason !== null) throw new HttpProblem('not-ready', reason, 1);
      return { status: 'ready' };
    },
  );
};

export const healthRoutes = fp(healthPlugin, { name: 'cityseg-health', dependencies: ['cityseg-readiness'], encapsulate: true });
