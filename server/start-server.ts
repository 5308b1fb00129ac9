import closeWithGrace from 'close-with-grace';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import { QueueClosedError } from './inference-queue.js';
import type { ServerConfig } from './config.js';
import { readModelsFile } from './models-file.js';

/** When a shutdown stops waiting for in-flight work: the budget less time to send the 503s (≥ 80% of it). */
export function drainDeadlineMs(shutdownTimeoutMs: number): number {
  return Math.max(shutdownTimeoutMs * 0.8, shutdownTimeoutMs - 1000);
}

/**
 * The running service for a validated config (server/main.ts and `cityseg serve` both start it).
 * Start order: the models file read and checked (a bad one throws ModelsFileError before anything listens);
 * listen (so /healthz answers and /readyz says 503 while models load); load and warm the models, each on its
 * runner (worker threads that load their own copies, or this thread); then /readyz turns 200. SIGHUP reloads the
 * models file. SIGTERM/SIGINT: stop accepting, finish in-flight requests, exit 0; exit 1 if that takes longer than
 * the shutdown timeout. If the models cannot be loaded, the server is closed again and the error thrown, so the
 * caller decides the exit status.
 */
export async function startServer(config: ServerConfig): Promise<FastifyInstance> {
  const modelEntries = config.models === undefined ? undefined : await readModelsFile(config.models, config);
  const app = await buildApp(config, { modelEntries });
  // A reload's outcome is logged and counted by the repository; nothing more to do with it here.
  const onHangUp = () => {
    if (config.models === undefined) app.log.warn('SIGHUP: no models file is configured, nothing to reload');
    else app.cityseg.repository.reload().catch(() => undefined);
  };
  process.on('SIGHUP', onHangUp);
  app.addHook('onClose', async () => {
    process.off('SIGHUP', onHangUp);
  });

  const grace = closeWithGrace(
    {
      delay: config.shutdownTimeoutMs,
      // SIGHUP reloads the models file (below), as daemons conventionally do; it must not shut the server down.
      skip: ['SIGHUP'],
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
    await app.cityseg.repository.start();
    app.log.info({ models: app.cityseg.models.list().map(({ model }) => model.id), workers: config.workers }, 'ready');
  } catch (error) {
    // Without this the handler would run again on beforeExit and turn the failure into exit 0.
    grace.uninstall();
    await app.close();
    throw error;
  }
  return app;
}
