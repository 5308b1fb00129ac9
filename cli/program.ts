/** The `cityseg` command line: one binary, one subcommand per job (entry point: cli/main.ts). */
import { Command, CommanderError } from 'commander';
import { exitQuietlyOnClosedStdout } from './closed-pipe.js';
import { benchCommand } from './commands/bench.js';
import { exportOnnxCommand } from './commands/export-onnx.js';
import { classifyCommand } from './commands/classify.js';
import { evalCommand } from './commands/eval.js';
import { logitsCommand } from './commands/logits.js';
import { segmentCommand } from './commands/segment.js';
import { serveCommand } from './commands/serve.js';
import { weightsCommand } from './commands/weights.js';
import { EXIT, EXIT_CODES_HELP } from './exit-codes.js';
import { exitCodeFor } from './report-error.js';

export function buildProgram(): Command {
  const program = new Command('cityseg')
    .description('Street-scene segmentation with MobileNetV3 + LR-ASPP, equal to torchvision')
    .showHelpAfterError()
    .exitOverride();
  program.addCommand(segmentCommand());
  program.addCommand(classifyCommand());
  program.addCommand(evalCommand());
  program.addCommand(serveCommand());
  program.addCommand(logitsCommand());
  program.addCommand(benchCommand());
  program.addCommand(exportOnnxCommand());
  program.addCommand(weightsCommand());
  program.addHelpText('after', EXIT_CODES_HELP);
  // Usage errors throw (exit 2 in main), at every depth (`weights list`).
  const overrideAll = (parent: Command): void => {
    for (const cmd of parent.commands) overrideAll(cmd.exitOverride());
  };
  overrideAll(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  exitQuietlyOnClosedStdout(EXIT.ok);
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    const { code, message } = exitCodeFor(err);
    process.stderr.write(`cityseg: ${message}\n`);
    return code;
  }
}


