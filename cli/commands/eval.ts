/**
 * `cityseg eval`: Cityscapes pixel-level scores (IoU, iIoU, categories) as the official script computes
 * them, from prediction PNGs on disk or from the model run over a Cityscapes tree in memory.
 */
import { minInputSide } from '../../model/fastseg.js';
import { Command, Option } from 'commander';
import { evaluateDirs, formatEvalTable, type EvalResult } from '../../segmentation/eval/evaluate.js';
import { checkClassCount, cityscapes } from '../../segmentation/labels/index.js';
import type { InferenceSize } from '../../segmentation/preprocess.js';
import { evaluateModelOnSamples, findCityscapesSamples } from '../cityscapes-eval.js';
import { loadCommandModel, withModel } from '../command-model.js';
import { addInferenceModeOptions, INFERENCE_MODE_HELP, inferenceModeFrom, type InferenceModeFlags } from '../inference-mode-options.js';
import { addModelOptions, addPrecisionOptions, addSizeOption, CLI_MAX_PIXELS, type ModelFlags } from '../options.js';
import { startProgress, type Progress } from '../progress.js';

interface EvalFlags extends ModelFlags, InferenceModeFlags {
  pred?: string;
  gt?: string;
  cityscapes?: string;
  split: string;
  inferenceSize: InferenceSize;
  json?: boolean;
  quiet?: boolean;
}

/** The table the official script prints, or the whole EvalResult as one JSON object. */
function printResult(result: EvalResult, json: boolean): void {
  process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : `${formatEvalTable(result)}\n`);
}

/** A progress bar started on the first report, when the total is known. */
function lazyProgress(label: string, quiet: boolean) {
  let progress: Progress | undefined;
  return {
    tick(total: number) {
      progress ??= startProgress({ total, label, quiet });
      progress.tick();
    },
    stop: () => progress?.stop(),
  };
}

async function evaluatePredictions(predDir: string, gtDir: string, flags: EvalFlags): Promise<EvalResult> {
  const progress = lazyProgress('eval', flags.quiet ?? false);
  try {
    return await evaluateDirs({ predDir, gtDir, onProgress: (_done, total) => progress.tick(total) });
  } finally {
    progress.stop();
  }
}

async function evaluateModel(root: string, flags: EvalFlags): Promise<EvalResult> {
  // The model must output the 19 Cityscapes trainIds that labelIdsFromTrainIds maps to label ids.
  checkClassCount(cityscapes, flags.numClasses ?? cityscapes.classes.length);
  const mode = inferenceModeFrom(flags);
  const samples = await findCityscapesSamples(root, flags.split);
  return withModel(await loadCommandModel(flags, cityscapes.classes.length, 'segmentation'), async (model) => {
    checkClassCount(cityscapes, model.numClasses);
    const progress = startProgress({ total: samples.length, label: `eval ${flags.split}`, quiet: flags.quiet ?? false });
    try {
      return await evaluateModelOnSamples(samples, { engine: model.engine, size: flags.inferenceSize, minSide: minInputSide(model.arch), mode, maxPixels: CLI_MAX_PIXELS, onImage: () => progress.tick() });
    } finally {
      progress.stop();
    }
  });
}

async function evalAction(flags: EvalFlags, cmd: Command): Promise<void> {
  let result: EvalResult;
  if (flags.cityscapes !== undefined) {
    result = await evaluateModel(flags.cityscapes, flags);
  } else if (flags.pred !== undefined && flags.gt !== undefined) {
    result = await evaluatePredictions(flags.pred, flags.gt, flags);
  } else {
    cmd.error('error: give --pred DIR and --gt DIR, or --cityscapes ROOT', { exitCode: 2 });
  }
  printResult(result, flags.json ?? false);
}

/**
 * What --weights means here: eval scores Cityscapes' 19 classes, and the default preset has VOC's 21, so an absent
 * --weights is never the preset but the untrained seeded model (loadCommandModel), announced on stderr.
 */
const EVAL_WEIGHTS_HELP =
  'segmentation checkpoint with 19 Cityscapes classes: .pth/.safetensors path, URL or torchvision:<arch>[.<VARIANT>]; ' +
  'absent or none = the untrained seeded model (scores near chance: a check of the pipeline only), never the default preset';

export function evalCommand(): Command {
  const cmd = new Command('eval')
    .addOption(new Option('--pred <dir>', 'predictions: one <city>_<seq>_<frame>*.png of label ids per ground truth').conflicts('cityscapes'))
    .addOption(new Option('--gt <dir>', 'ground truth: *_gtFine_labelIds.png (+ *_gtFine_instanceIds.png for iIoU)').conflicts('cityscapes'))
    .option('--cityscapes <root>', 'run the model over <root>/leftImg8bit/<split> and score it against <root>/gtFine/<split>')
    .option('--split <name>', 'split of the --cityscapes tree', 'val')
    .option('--json', 'print one JSON object (mIoU, classIoU, categoryIoU, iIoU, ..., confusion) instead of the table')
    .option('--quiet', 'no progress bar');
  addSizeOption(cmd);
  addInferenceModeOptions(cmd);
  addModelOptions(cmd, 'segmentation', EVAL_WEIGHTS_HELP);
  addPrecisionOptions(cmd);
  cmd.addHelpText(
    'after',
    `
--size, --mode, --crop, --stride, --scales, --flip, --arch, --weights and the other model flags apply to
--cityscapes only. Without --weights, --cityscapes runs the untrained seeded model and says so on stderr: its scores
are near chance. eval never fetches the default preset (its 21 VOC classes cannot be scored on Cityscapes); give
weights trained on Cityscapes' 19 classes.
${INFERENCE_MODE_HELP.trim()} The prediction folder
holds one PNG of label ids per image, or several outputs per image of which eval reads *_labelIds.png
(e.g. \`cityseg segment --out preds leftImg8bit/val\` with its default formats).

Examples:
  cityseg eval --pred preds --gt cityscapes/gtFine/val
  cityseg eval --pred preds --gt cityscapes/gtFine/val --json > scores.json
  cityseg eval --cityscapes ~/data/cityscapes --split val --weights lraspp_cityscapes.pth --size 1024
  cityseg eval --cityscapes ~/data/cityscapes --weights lraspp_cityscapes.pth --size native --mode slide \\
    --scales 0.5,0.75,1,1.25,1.5,1.75 --flip --max-forward-passes 200`,
  );
  return cmd.action(evalAction);
}
