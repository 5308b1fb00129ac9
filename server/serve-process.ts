import { Command } from 'commander';
import { ConfigError, loadConfig, SETTINGS, type ConfigFlags, type ServerConfig } from './config.js';
import { WeightsError } from '../model/weights/errors.js';
import { ClassCountMismatchError, LabelSetError } from '../segmentation/errors.js';
import { ModelsFileError } from './models-file.js';
import { startServer } from './start-server.js';
import { EXIT } from '../cli/exit-codes.js';

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
    process.exit(EXIT.usage);
  }
}

/** The server process's work after its signal handlers are installed (server/main.ts). */
export async function runServerProcess(): Promise<void> {
  try {
    await startServer(readConfig());
  } catch (error) {
    exitOnStartFailure(error);
  }
}

/** A bad checkpoint or label set is the operator's to fix: one line, no stack (CITYSEG_DEBUG=1 shows it). */
function isKnownStartFailure(error: unknown): boolean {
  const known = [WeightsError, LabelSetError, ClassCountMismatchError];
  // From a worker thread the error arrives structured-cloned: its class is gone, its name is kept.
  const names = new Set(['WeightsError', 'StateDictMismatchError', 'LabelSetError', 'ClassCountMismatchError']);
  const isKnown = (e: unknown) => known.some((type) => e instanceof type) || (e instanceof Error && names.has(e.name));
  return isKnown(error) || (error instanceof Error && isKnown(error.cause));
}

function exitOnStartFailure(error: unknown): never {
  // A models file that cannot be served is bad configuration: its one line names the file and the entry.
  if (error instanceof ModelsFileError) {
    process.stderr.write(`cityseg-server: ${error.message}\n`);
    process.exit(EXIT.usage);
  }
  const detail = error instanceof Error ? (isKnownStartFailure(error) && !process.env.CITYSEG_DEBUG ? error.message : error.stack) : String(error);
  process.stderr.write(`cityseg-server: failed to start: ${detail}\n`);
  process.exit(EXIT.failure);
}
