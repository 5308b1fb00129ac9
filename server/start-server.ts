import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import { CLOSING_RETRY_AFTER_SECONDS } from './framework-errors.js';
import { QueueClosedError } from './inference-queue.js';
import { HttpProblem } from './problems.js';
import type { ServerConfig } from './config.js';
import { readModelsFile } from './models-file.js';
import { processSignals, type ProcessSignals } from './shutdown.js';

/** What a request cut by the shutdown's budget is told. */
const SHUTDOWN_CUT = 'the server is shutting down';

/** How often a forced exit looks whether every accepted request has been answered. */
const QUIET_POLL_MS = 20;

const connectionCount = (server: Server) =>
  new Promise<number>((resolve) => server.getConnections((error, count) => resolve(error ? 0 : count)));

/**
 * The running service for a validated config (server/main.ts and `cityseg serve` both start it).
 * Start order: the models file read and checked (a bad one throws ModelsFileError before anything listens);
 * listen (so /healthz answers and /readyz says 503 while models load); load and warm the models, each on its
 * runner (worker threads that load their own copies, or this thread); then /readyz turns 200. Signals are
 * server/shutdown.ts's: SIGHUP reloads the models file; SIGTERM/SIGINT (even during the start) stop accepting,
 * finish in-flight requests and exit 0, or 1 if that takes longer than the shutdown timeout. If the models cannot
 * be loaded, the server is closed again and the error thrown, so the caller decides the exit status.
 */
export async function startServer(config: ServerConfig, signals: ProcessSignals = processSignals): Promise<FastifyInstance> {
  signals.install();
  const modelEntries = config.models === undefined ? undefined : await readModelsFile(config.models, config);
  const app = await buildApp(config, { modelEntries });
  const { repository } = app;
  signals.attach(
    {
      close: () => app.close(),
      answerTheRest: (lingerMs) => {
        const { queue } = app.inference;
        const queued = queue.depth + queue.running;
        const bodies = app.cutBodies(() => new HttpProblem('shutting-down', SHUTDOWN_CUT, CLOSING_RETRY_AFTER_SECONDS), lingerMs);
        app.log.warn({ waiting: queue.depth, running: queue.running, receiving: bodies }, 'shutdown budget nearly spent: answering the rest 503');
        queue.stopAccepting();
        queue.rejectAll(() => new QueueClosedError(SHUTDOWN_CUT, CLOSING_RETRY_AFTER_SECONDS));
        return queued + bodies;
      },
      quiet: async () => {
        await repository.settled();
        await app.inference.queue.idle();
        // The 503s and answers already computed reach their clients before the exit (each response's 'close'), and
        // the connections still lingering over a refused body close first: exiting with a client's bytes unread
        // resets the connection, and the client loses the answer it had not read yet.
        while ((await app.metrics.inFlight.get()).values.some(({ value }) => value > 0)) await sleep(QUIET_POLL_MS);
        while ((await connectionCount(app.server)) > 0) await sleep(QUIET_POLL_MS);
      },
      // A reload's outcome is logged and counted by the repository; nothing more to do with it here.
      reload: () => {
        if (config.models === undefined) app.log.warn('SIGHUP: no models file is configured, nothing to reload');
        else repository.reload().catch(() => undefined);
      },
      log: app.log,
    },
    { timeoutMs: config.shutdownTimeoutMs, passLimitMs: config.requestTimeoutMs },
  );

  try {
    await app.listen({ port: config.port, host: config.host });
    await repository.start();
    app.log.info({ models: app.models.list().map(({ model }) => model.id), workers: config.workers }, 'ready');
  } catch (error) {
    // The caller reports the failure and chooses the exit status.
    signals.uninstall();
    await app.close();
    throw error;
  }
  signals.started();
  return app;
}
