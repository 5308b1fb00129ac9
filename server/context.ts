import type { FastifyInstance } from 'fastify';

/** The services a long-running job reads (server/jobs/runner.ts): the app's decorators, each owned by its plugin. */
export type AppContext = Pick<FastifyInstance, 'config' | 'models' | 'inference'>;
