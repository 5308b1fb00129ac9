/**
 * `cityseg serve`: the HTTP service, started exactly as server/main.ts starts it. Its flags come from the
 * server's settings table, so every flag has the environment variable of the same setting (PORT, HOST,
 * CITYSEG_WEIGHTS, ...) and the server's own validation.
 */
import { Command } from 'commander';
import { loadConfig, SETTINGS, type ConfigFlags } from '../../server/config.js';

export function serveCommand(): Command {
  const cmd = new Command('serve');
  for (const spec of Object.values(SETTINGS)) {
    cmd.option(`--${spec.flag} <value>`, `${spec.help} (env ${spec.env})`);
  }
  cmd.addHelpText(
    'after',
    `
A flag wins over its environment variable, which wins over the default. The service answers /healthz
at once and /readyz once the models are loaded and warmed; SIGTERM/SIGINT finish in-flight requests.

Examples:
  cityseg serve
  cityseg serve --port 3000 --host 127.0.0.1 --weights lraspp_cityscapes.pth
  PORT=9000 CITYSEG_WORKERS=2 cityseg serve --classifier-arch none --inference-size 768
  CITYSEG_ADMIN_TOKEN=secret cityseg serve --models models.yaml   # several models; reload: kill -HUP or POST /v1/admin/reload`,
  );
  // commander camel-cases `--num-classes` to `numClasses`: exactly the setting names loadConfig takes.
  return cmd.action(async (flags: ConfigFlags) => {
    const config = loadConfig(process.env, flags);
    // Loaded on demand: the other commands should not pay for Fastify and its plugins at start-up.
    const { startServer } = await import('../../server/start-server.js');
    await startServer(config);
  });
}
