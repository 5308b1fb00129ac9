import closeWithGrace from 'close-with-grace';
import { Command } from 'commander';
import { buildApp } from './app.js';
import { ConfigError, loadConfig, SETTINGS, type ConfigFlags, type ServerConfig } from './config.js';
import { loadConfiguredModels } from './load-models.js';
import { serveModels } from './serve-models.js';

/** Exit status for an invalid setting (distinct from 1, a failure while running). */
const EXIT_BAD_CONFIG = 2;

function parseFlags(argv: string[]): ConfigFlags {
  const program = new Command('cityseg-server').description(
    'Segmentation HTTP service. Every flag can also be set by its environment variable; the flag wins.',
  );
  for (const spec of Object.values(SETTINGS)) {
    program.option(`--${spec.flag} <value>`, `${spec.help} [env ${spec.env}]`);
  }
  // commander camel-cases `--num-classes` to `numClasses`: exactly the setting names.
  return program.parse(argv).opts<ConfigFlags>();
}

function readConfig(): ServerConfig {
  try {
    return loadConfig(process.env, parseFlags(process.argv));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`cityseg-server: invalid setting ${error.message}\n`);
    process.exit(EXIT_BAD_CONFIG);
  }
}

/**
 * Start order: listen first (so /healthz answers and /readyz says 503 while models load), then load
 * and warm the models, then /readyz turns 200. SIGTERM/SIGINT: stop accepting, finish in-flight
 * requests, exit 0; exit 1 if that takes longer than the shutdown timeout.
 */
async function main(): Promise<void> {
  const config = readConfig();
  const app = await buildApp(config);

  closeWithGrace(
    {
      delay: config.shutdownTimeoutMs,
      logger: { error: (message: unknown) => app.log.error(message as object) },
    },
    async ({ signal, err }) => {
      if (err) app.log.error({ err }, 'fatal error, closing the server');
      else app.log.info({ signal }, 'shutting down: finishing in-flight requests');
      await app.close();
      app.log.info('server closed');
    },
  );

  await app.listen({ port: config.port, host: config.host });
  const models = await loadConfiguredModels(config);
  await serveModels(app, models);
  app.log.info({ models: models.map((model) => model.id) }, 'ready');
}

main().catch((error: unknown) => {
  process.stderr.write(`cityseg-server: failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
