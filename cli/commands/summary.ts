/** `cityseg summary`: the network as the paper's Table 1 / 2 and layer by layer, with parameters and multiply-adds. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { ARCH_NAMES, type ArchName } from '../../model/architectures.js';
import { minInputSide } from '../../model/fastseg.js';
import { summarizeNetwork, type LayerRow, type NetworkSummary, type TableRow } from '../../model/summary.js';
import { parseSize } from '../bench/stats.js';
import { parsePositiveInt } from '../options.js';

interface SummaryFlags {
  arch: ArchName;
  input?: [height: number, width: number];
  numClasses?: number;
  json?: boolean;
}

/** Columns padded to their widest cell; numbers right-aligned. */
function columns(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((row) => typeof row[i] === 'number'));
  return cells.map((row) => row.map((cell, i) => (numeric[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join('  ').trimEnd()).join('\n');
}

function parseInput(text: string): [number, number] {
  const [height, width] = (() => {
    try {
      return parseSize(text);
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message);
    }
  })();
  if (height < 1 || width < 1) throw new InvalidArgumentError(`input must be at least 1x1, got '${text}'`);
  return [height, width];
}

const shape = (s: readonly number[]) => s.join('x');

/** The summary as text: the paper's table, the per-layer table, the totals and the counting convention. */
export function formatSummary(summary: NetworkSummary): string {
  const paper = columns(
    ['input', 'operator', 'exp size', '#out', 'SE', 'NL', 's'],
    summary.table.map((row: TableRow) => [row.input, row.operator, row.expSize ?? '-', row.out, row.se ? '✓' : '-', row.nl ?? '-', row.stride]),
  );
  const layers = columns(
    ['module', 'operator', 'input', 'output', 'params', 'MAdds'],
    summary.layers.map((layer: LayerRow) => [layer.module, layer.operator, shape(layer.input), shape(layer.output), layer.parameters, layer.multiplyAdds]),
  );
  const { height, width } = summary.input;
  return [
    `${summary.arch}, ${summary.numClasses} classes, input ${height}x${width}x3`,
    '',
    paper,
    '',
    layers,
    '',
    `parameters: ${summary.parameters.toLocaleString('en')}`,
    `multiply-adds: ${summary.multiplyAdds.toLocaleString('en')} (${(summary.multiplyAdds / 1e6).toFixed(1)}M)`,
    'counted: one multiply-add per conv or Linear weight per output position, BatchNorm folded; biases, activations,',
    'pooling, the SE gate, residual sums and resizes not counted',
    '',
  ].join('\n');
}

export function summaryCommand(): Command {
  const cmd = new Command('summary')
    .addOption(new Option('--arch <name>', 'architecture').choices(ARCH_NAMES).default('mobilenet_v3_large'))
    .addOption(new Option('--input <HxW>', "input height x width (default: 224x224, or the architecture's minimum side, fastseg's 385)").argParser(parseInput))
    .addOption(new Option('--num-classes <n>', "output classes (default: the architecture's untrained count)").argParser(parsePositiveInt))
    .option('--json', 'one JSON document: table, layers and totals');
  cmd.addHelpText('after', `
The paper's MAdds ("Searching for MobileNetV3", Tables 1 and 2) are at 224x224: 219M for Large, 56M for Small.

Examples:
  cityseg summary
  cityseg summary --arch lraspp_mobilenet_v3_large --input 1024x2048 --json`);
  return cmd.action((flags: SummaryFlags) => {
    const min = minInputSide(flags.arch);
    const [height, width] = flags.input ?? [Math.max(224, min), Math.max(224, min)];
    let summary: NetworkSummary;
    try {
      summary = summarizeNetwork(flags.arch, { height, width }, flags.numClasses);
    } catch (err) {
      if (err instanceof RangeError) cmd.error(`cityseg summary: ${err.message}`, { exitCode: 2 });
      throw err;
    }
    process.stdout.write(flags.json ? `${JSON.stringify(summary)}\n` : formatSummary(summary));
  });
}
