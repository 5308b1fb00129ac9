/** `cityseg classify`: the ImageNet classes MobileNetV3 sees in each image, most probable first. */
import { readFile } from 'node:fs/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { classifierTransformOf } from '../../model/descriptor.js';
import { IMAGENET_CLASSES } from '../../model/imagenet-classes.js';
import type { LoadedModel } from '../../model/loaded-model.js';
import { ClassCountMismatchError } from '../../segmentation/errors.js';
import { classifyImage } from '../../segmentation/pipeline.js';
import type { TopKEntry } from '../../segmentation/postprocess.js';
import { checkBatch, formatSummary, runBatch } from '../batch.js';
import { chooseCommandWeights, loadChosenModel, withModel } from '../command-model.js';
import { collectImageInputs } from '../inputs.js';
import { addModelOptions, CLI_MAX_PIXELS, type ModelFlags } from '../options.js';

interface ClassifyFlags extends ModelFlags {
  topk: number;
  json?: boolean;
  quiet?: boolean;
}

export interface ClassifiedImage {
  file: string;
  top: TopKEntry[];
}

function parseTopKFlag(value: string): number {
  const k = Number(value);
  if (!(Number.isInteger(k) && k >= 1 && k <= IMAGENET_CLASSES.length)) {
    throw new InvalidArgumentError(`expected an integer in 1..${IMAGENET_CLASSES.length}`);
  }
  return k;
}

/** One block per image: the file, then `rank  probability  class (index)` rows. */
export function formatTopKTable({ file, top }: ClassifiedImage): string {
  const rows = top.map(
    (entry, i) => `  ${String(i + 1).padStart(4)}  ${entry.probability.toFixed(4).padStart(11)}  ${entry.label} (${entry.index})`,
  );
  return [file, `  rank  probability  class (index)`, ...rows, ''].join('\n');
}

async function classifyAction(inputs: string[], flags: ClassifyFlags): Promise<void> {
  const { images, problems } = await collectImageInputs(inputs);
  for (const problem of problems) process.stderr.write(`cityseg: ${problem.input}: ${problem.reason}\n`);
  const results: ClassifiedImage[] = [];

  const classifyOne = async (model: LoadedModel, file: string) => {
    const { top } = await classifyImage(model.engine, await readFile(file), {
      maxPixels: CLI_MAX_PIXELS,
      topk: flags.topk,
      labels: IMAGENET_CLASSES,
      transform: classifierTransformOf(model),
    });
    const result = { file, top };
    results.push(result);
    // The table streams as images finish; JSON is one document written at the end.
    if (!flags.json) process.stdout.write(`${formatTopKTable(result)}\n`);
    return 'processed' as const;
  };

  const numClasses = flags.numClasses ?? IMAGENET_CLASSES.length;
  if (numClasses !== IMAGENET_CLASSES.length) throw new ClassCountMismatchError('imagenet', IMAGENET_CLASSES.length, numClasses);
  // Tables streaming to the same terminal would tear the bar; they show the progress themselves.
  const quiet = (flags.quiet ?? false) || (!flags.json && process.stdout.isTTY === true);
  const choice = await chooseCommandWeights(flags, 'classification', flags.numClasses);
  const counts = await withModel(await loadChosenModel(flags, choice, 'classification', numClasses, flags.quiet), (model) => {
    // A checkpoint's own class count must be ImageNet's too: the labels printed are ImageNet's.
    if (model.numClasses !== IMAGENET_CLASSES.length) throw new ClassCountMismatchError('imagenet', IMAGENET_CLASSES.length, model.numClasses);
    return runBatch(images, { label: 'classify', quiet, nameOf: (image) => image.file, run: (image) => classifyOne(model, image.file) }, problems.length);
  });
  if (flags.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  if (!flags.quiet && images.length > 1) process.stderr.write(`${formatSummary(counts)}\n`);
  checkBatch(counts);
}

export function classifyCommand(): Command {
  const cmd = new Command('classify')
    .argument('<image...>', 'image files, folders (searched recursively for images) or glob patterns')
    .addOption(new Option('--topk <k>', 'how many classes to print per image').argParser(parseTopKFlag).default(5))
    .option('--json', 'print one JSON array of { file, top: [{ index, label, probability }] } instead of tables')
    .option('--quiet', 'no progress bar, no summary (failed files are still reported)');
  addModelOptions(cmd, 'classification');
  cmd.addHelpText(
    'after',
    `
Without --weights: torchvision's weights for --arch (torchvision:mobilenet_v3_large is IMAGENET1K_V2), fetched
once into the cache; where they cannot be had, or with --weights none, the untrained seeded model (with a warning).

Examples:
  cityseg classify cat.jpg
  cityseg classify --weights torchvision:mobilenet_v3_large.IMAGENET1K_V1 cat.jpg
  cityseg classify --weights mobilenet_v3_large-8738ca79.pth cat.jpg
  cityseg classify --arch mobilenet_v3_small --weights mobilenet_v3_small-047dcff4.pth --topk 3 photos/
  cityseg classify --json --weights mobilenet_v3_large-8738ca79.pth '*.jpg' > classes.json`,
  );
  return cmd.action(classifyAction);
}
