import closeWithGrace from 'close-with-grace';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import { QueueClosedError } from './inference-queue.js';
import type { ServerConfig } from './config.js';
import { loadConfiguredModels } from './load-models.js';
import { serveModels } from './serve-models.js';
import { startWorkerPool } from './worker-pool.js';

/** When a shutdown stops waiting for in-flight work: the budget less time to send the 503s (≥ 80% of it). */
export function drainDeadlineMs(shutdownTimeoutMs: number): number {
  return Math.max(shutdownTimeoutMs * 0.8, shutdownTimeoutMs - 1000);
}

/**
 * The running service for a validated config (server/main.ts and `cityseg serve` both start it).
 * Start order: listen first (so /healthz answers and /readyz says 503 while models load), then load
 * and warm the models — on this thread, or in `config.workers` worker threads that load their own —
 * then /readyz turns 200. SIGTERM/SIGINT: stop accepting, finish in-flight requests, exit 0; exit 1
 * if that takes longer than the shutdown timeout. If the models cannot be loaded, the server is
 * closed again and the error thrown, so the caller decides the exit status.
 */
export async function startServer(config: ServerConfig): Promise<FastifyInstance> {
  // The pool starts before the app exists; its late worker failures go to the app's log.
  const logs: { to?: FastifyInstance['log'] } = {};
  const onWorkerError = (err: Error) => logs.to?.error({ err }, 'an inference worker failed; piscina replaces it');
  const pool = config.workers > 0 ? startWorkerPool(config, onWorkerError) : undefined;
  const app = await buildApp(config, pool ? { runner: () => pool.runner } : {});
  logs.to = app.log;

  const grace = closeWithGrace(
    {
      delay: config.shutdownTimeoutMs,
      logger: { error: (message: unknown) => app.log.error(message as object) },
    },
    async ({ signal, err }) => {
      if (err) app.log.error({ err }, 'fatal error, closing the server');
      else app.log.info({ signal }, 'shutting down: finishing in-flight requests');
      const { queue } = app.cityseg.inference;
      // Requests already accepted keep being served (new ones get 503 from the closing server);
      // what cannot finish in the budget is answered 503 before the forced exit, so no request goes unanswered.
      const drain = setTimeout(() => {
        app.log.warn({ waiting: queue.depth, running: queue.running }, 'shutdown budget nearly spent: answering the rest 503');
        queue.stopAccepting();
        queue.rejectAll(() => new QueueClosedError('the server is shutting down', 1));
      }, drainDeadlineMs(config.shutdownTimeoutMs));
      drain.unref();
      await app.close();
      clearTimeout(drain);
      app.log.info('server closed');
    },
  );

  try {
    await app.listen({ port: config.port, host: config.host });
    const models = pool ? await pool.models : await loadConfiguredModels(config);
    // Workers warm their own copies; the main thread only describes them.
    await serveModels(app, models, { warm: !pool });
    app.log.info({ models: models.map((model) => model.id), workers: config.workers }, 'ready');
  } catch (error) {
    // Without this the handler would run again on beforeExit and turn the failure into exit 0.
    grace.uninstall();
    await app.close();
    throw error;
  }
  return app;
}
