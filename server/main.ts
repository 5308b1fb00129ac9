import { Command } from 'commander';
import { ConfigError, loadConfig, SETTINGS, type ConfigFlags, type ServerConfig } from './config.js';
import { startServer } from './start-server.js';

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

async function main(): Promise<void> {
  await startServer(readConfig());
}

main().catch((error: unknown) => {
  process.stderr.write(`cityseg-server: failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
