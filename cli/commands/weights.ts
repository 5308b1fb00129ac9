/**
 * `cityseg weights <subcommand>`: checkpoints as files. `inspect` is here; other subcommands (list, fetch) come
 * from their own modules through `weightsCommand(...subcommands)`.
 */
import { Command, Option } from 'commander';
import { formatInspection, inspectWeights } from '../../model/weights/inspect.js';

interface InspectFlags {
  json?: boolean;
  weightsKey?: string;
  cacheDir?: string;
}

/** `cityseg weights inspect FILE|URL [--json] [--weights-key K]`. */
export function weightsInspectCommand(): Command {
  return new Command('inspect')
    .description('describe a checkpoint: format, dtypes, tensors, the architecture and class count it fits, parameters, sha256, wrapper keys')
    .argument('<file|url>', 'checkpoint: .pth (zip or legacy), .safetensors or TorchScript; path or http(s) URL')
    .option('--json', 'print one JSON object instead of the table')
    .addOption(new Option('--weights-key <key>', 'entry of a training checkpoint to describe, e.g. model_ema'))
    .addOption(new Option('--cache-dir <dir>', 'where downloaded weights are cached').env('CITYSEG_CACHE_DIR'))
    .addHelpText('after', `
Examples:
  cityseg weights inspect lraspp_mobilenet_v3_large-d234d4ea.pth
  cityseg weights inspect --weights-key model_ema --json checkpoint.pth`)
    .action(async (source: string, flags: InspectFlags) => {
      const report = await inspectWeights(source, { weightsKey: flags.weightsKey, cacheDir: flags.cacheDir });
      process.stdout.write(`${flags.json ? JSON.stringify(report, null, 2) : formatInspection(report)}\n`);
    });
}

/** The `weights` command with the given subcommands; each exits through main's error handling. */
export function weightsCommand(...subcommands: Command[]): Command {
  const cmd = new Command('weights');
  for (const sub of subcommands) cmd.addCommand(sub.exitOverride());
  return cmd;
}
