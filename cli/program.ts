/** The `cityseg` command line: one binary, one subcommand per job (entry point: cli/main.ts). */
import { Command, CommanderError } from 'commander';
import { exitQuietlyOnClosedStdout } from './closed-pipe.js';
import { EXIT, EXIT_CODES_HELP } from './exit-codes.js';
import { exitCodeFor } from './report-error.js';
import { PACKAGE_VERSION } from '../server/package-version.js';

interface CommandEntry {
  description: string;
  /** Imports the command's module (and with it sharp, ONNX Runtime, Fastify...): only for the command that runs. */
  load(): Promise<Command>;
}

/** Every subcommand, in the order `cityseg --help` lists them. */
const COMMANDS: Record<string, CommandEntry> = {
  segment: {
    description: 'segment images and write masks named after them: <stem>_labelIds.png, <stem>_color.png, ...',
    load: async () => (await import('./commands/segment.js')).segmentCommand(),
  },
  classify: {
    description: 'print the top-k ImageNet classes and their probabilities for each image',
    load: async () => (await import('./commands/classify.js')).classifyCommand(),
  },
  eval: {
    description: 'Cityscapes IoU / iIoU of label-id predictions against gtFine, or of the model over a Cityscapes split',
    load: async () => (await import('./commands/eval.js')).evalCommand(),
  },
  serve: {
    description: 'run the segmentation HTTP service (the same service as `npm start`)',
    load: async () => (await import('./commands/serve.js')).serveCommand(),
  },
  logits: {
    description: 'write the raw model output for IMAGE as a float32 .npy in torch layout ([1,C,H,W] or [1,C])',
    load: async () => (await import('./commands/logits.js')).logitsCommand(),
  },
  bench: {
    description:
      "measure model-only latency per engine, end-to-end HTTP latency and throughput, and (with --peers) PyTorch and ONNX Runtime on torchvision's export",
    load: async () => (await import('./commands/bench.js')).benchCommand(),
  },
  quantize: {
    description: 'calibrate int8 inference on your images: writes the file --precision int8 --quantization FILE reads',
    load: async () => (await import('./commands/quantize.js')).quantizeCommand(),
  },
  'export-onnx': {
    description:
      'write the model as an ONNX file: input "input" [N,3,H,W] float32 (ImageNet-normalised), output "out" [N,C,H,W] (or [N,C])',
    load: async () => (await import('./commands/export-onnx.js')).exportOnnxCommand(),
  },
  summary: {
    description: "the network as the paper's Table 1 / 2 and layer by layer: shapes, parameters and multiply-adds",
    load: async () => (await import('./commands/summary.js')).summaryCommand(),
  },
  weights: {
    description: "work with checkpoint files and torchvision's published weights: inspect, list, fetch into the cache",
    load: async () => {
      const [{ weightsCommand, weightsInspectCommand }, { weightsFetchCommand, weightsListCommand }] = await Promise.all([
        import('./commands/weights.js'),
        import('./commands/weights-presets.js'),
      ]);
      return weightsCommand(weightsInspectCommand(), weightsListCommand(), weightsFetchCommand());
    },
  },
};

/** The subcommand `argv` names (`segment …`, `help segment`), if any: the only one worth importing. */
function requestedCommand(argv: readonly string[]): string | undefined {
  const [first, second] = argv;
  return first === 'help' ? second : first;
}

/**
 * The program for `argv`: the requested subcommand is built in full, the others are name-and-description stubs
 * (enough for `cityseg --help` and for commander's "did you mean" on a typo).
 */
export async function buildProgram(argv: readonly string[]): Promise<Command> {
  const program = new Command('cityseg')
    .description('Street-scene segmentation with MobileNetV3 + LR-ASPP, equal to torchvision')
    .version(PACKAGE_VERSION, '-V, --version')
    .showHelpAfterError()
    .exitOverride();
  const wanted = requestedCommand(argv);
  for (const [name, entry] of Object.entries(COMMANDS)) {
    const cmd = name === wanted ? await entry.load() : new Command(name);
    program.addCommand(cmd.description(entry.description).exitOverride());
  }
  program.addHelpText('after', EXIT_CODES_HELP);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  exitQuietlyOnClosedStdout(EXIT.ok);
  try {
    await (await buildProgram(argv)).parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    const { code, message } = exitCodeFor(err);
    process.stderr.write(`cityseg: ${message}\n`);
    return code;
  }
}
