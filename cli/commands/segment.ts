/** `cityseg segment`: masks for many images, written Cityscapes-style next to each other in one folder. */
import { minInputSide } from '../../model/fastseg.js';
import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import type { LoadedModel } from '../../model/loaded-model.js';
import type { InferenceModeOptions } from '../../segmentation/inference-modes/index.js';
import { labelSetNameForClassCount } from '../../segmentation/labels/for-class-count.js';
import { checkClassCount, labelSetFor, type LabelSet } from '../../segmentation/labels/index.js';
import { segmentImage } from '../../segmentation/pipeline.js';
import { checkBatch, formatSummary, runBatch, type ItemOutcome } from '../batch.js';
import { chooseCommandWeights, loadChosenModel, withModel } from '../command-model.js';
import { exists, writeFileAtomic } from '../files.js';
import { isVideoFile, segmentVideoFile } from '../video.js';
import { addInferenceModeOptions, INFERENCE_MODE_HELP, inferenceModeFrom, type InferenceModeFlags } from '../inference-mode-options.js';
import { collectImageInputs, VIDEO_FILE_EXTENSIONS, withUniqueStems, type ImageInput } from '../inputs.js';
import {
  addModelOptions,
  addPrecisionOptions,
  addSegmentationOptions,
  CLI_MAX_PIXELS,
  parseFraction,
  parsePositiveInt,
  parsePositiveNumber,
  type ModelFlags,
  type SegmentationFlags,
} from '../options.js';
import { OUTPUT_FORMATS, type OverlayFormat } from '../../segmentation/output-formats.js';
import { outputPath, parseFormats, parseOverlayFormat, SEGMENT_FORMATS, type OutputContext, type SegmentFormat } from '../segment-outputs.js';

interface SegmentFlags extends ModelFlags, SegmentationFlags, InferenceModeFlags {
  out: string;
  format: SegmentFormat[];
  alpha: number;
  overlayFormat: OverlayFormat;
  rle?: boolean;
  overwrite?: boolean;
  quiet?: boolean;
  frames?: boolean;
  fps?: number;
  every?: number;
  maxFrames?: number;
}

interface SegmentJob {
  model: LoadedModel;
  flags: SegmentFlags;
  context: OutputContext;
  mode: InferenceModeOptions;
}

/** The formats of `image` still to write: all with --overwrite, else those whose file is missing. */
async function pendingFormats(image: ImageInput, flags: SegmentFlags): Promise<SegmentFormat[]> {
  if (flags.overwrite) return flags.format;
  const missing = await Promise.all(flags.format.map(async (format) => !(await exists(outputPath(flags.out, image.stem, format, flags)))));
  return flags.format.filter((_, i) => missing[i]);
}

async function segmentOne(image: ImageInput, { model, flags, context, mode }: SegmentJob): Promise<ItemOutcome> {
  if (isVideoFile(image.file)) {
    return segmentVideoFile(image.file, image.stem, {
      engine: model.engine,
      size: flags.inferenceSize,
      minSide: minInputSide(model.arch),
      mode,
      formats: flags.format,
      context,
      out: flags.out,
      sampling: { fps: flags.fps, every: flags.every, maxFrames: flags.maxFrames },
      frames: flags.frames ?? false,
      overwrite: flags.overwrite ?? false,
      quiet: flags.quiet ?? false,
    });
  }
  const formats = await pendingFormats(image, flags);
  if (formats.length === 0) return 'skipped';
  const result = await segmentImage(model.engine, await readFile(image.file), { size: flags.inferenceSize, minSide: minInputSide(model.arch), maxPixels: CLI_MAX_PIXELS }, mode);
  for (const format of formats) {
    await writeFileAtomic(outputPath(flags.out, image.stem, format, context), await OUTPUT_FORMATS[format].encode(result, context));
  }
  return 'processed';
}

async function segmentAction(inputs: string[], flags: SegmentFlags, cmd: Command): Promise<void> {
  if (flags.fps !== undefined && flags.every !== undefined) cmd.error('error: --fps and --every both choose the frames of a video; give one', { exitCode: 2 });
  const mode = inferenceModeFrom(flags);
  // Without --weights, --labels or --num-classes: the default preset and its label set (VOC), where it can be had.
  const choice = await chooseCommandWeights(flags, 'segmentation', flags.numClasses, flags.labels);
  const named: LabelSet | undefined = choice.labels === undefined ? undefined : await labelSetFor(choice.labels);
  const { images, problems } = withUniqueStems(await collectImageInputs(inputs));
  for (const problem of problems) process.stderr.write(`cityseg: ${problem.input}: ${problem.reason}\n`);
  const hasVideo = images.some((image) => isVideoFile(image.file));
  if (flags.rle && !flags.format.includes('json') && !hasVideo) {
    cmd.error('error: --rle adds RLE masks to the json output (and to a video\'s .jsonl); add json to --format', { exitCode: 2 });
  }

  // Before loading: a label set that does not fit the model is a usage error, found without waiting.
  if (named) checkClassCount(named, choice.numClasses ?? flags.numClasses ?? named.classes.length);
  const counts = await withModel(await loadChosenModel(flags, choice, 'segmentation', named?.classes.length, flags.quiet), async (model) => {
    // Without --labels or a preset's: the built-in set of the checkpoint's class count (19 cityscapes, 21 voc).
    const labelSet = named ?? (await labelSetFor(labelSetNameForClassCount(model.numClasses)));
    checkClassCount(labelSet, model.numClasses);
    const job: SegmentJob = {
      model,
      flags,
      mode,
      context: { labelSet, modelId: model.id, trained: model.weights.trained, alpha: flags.alpha, overlayFormat: flags.overlayFormat, rle: flags.rle ?? false },
    };
    return runBatch(
      images,
      { label: 'segment', quiet: flags.quiet ?? false, noBar: hasVideo, nameOf: (image) => image.file, run: (image) => segmentOne(image, job) },
      problems.length,
    );
  });
  if (!flags.quiet) process.stderr.write(`${formatSummary(counts)}\n`);
  checkBatch(counts);
}

export function segmentCommand(): Command {
  const cmd = new Command('segment')
    .argument('<input...>', 'image or video files, folders (searched recursively for images and videos) or glob patterns')
    .requiredOption('--out <dir>', 'output folder; images found in a folder INPUT keep their sub-folders')
    .addOption(
      new Option('--format <list>', `comma-separated outputs: ${SEGMENT_FORMATS.join(', ')}`)
        .argParser(parseFormats)
        .default(['labelIds', 'color'], 'labelIds,color'),
    )
    .addOption(new Option('--alpha <0..1>', 'opacity of the colours in the overlay').argParser(parseFraction).default(0.5))
    .addOption(new Option('--overlay-format <jpeg|png>', 'file format of the overlay').argParser(parseOverlayFormat).default('jpeg'))
    .option('--rle', "add per-class COCO RLE masks to the json output and to each video frame's .jsonl line")
    .option('--frames', "videos: also write each frame's masks in the image formats, under <stem>_frames/")
    .addOption(new Option('--fps <F>', 'videos: segment F frames per second (default: every frame)').argParser(parsePositiveNumber))
    .addOption(new Option('--every <N>', 'videos: segment every N-th frame').argParser(parsePositiveInt))
    .addOption(new Option('--max-frames <N>', 'videos: segment at most N frames').argParser(parsePositiveInt))
    .option('--overwrite', 'write outputs that already exist again (default: skip them)')
    .option('--quiet', 'no progress bar, no summary (failed files are still reported)');
  addSegmentationOptions(cmd);
  addInferenceModeOptions(cmd);
  addModelOptions(cmd, 'segmentation');
  addPrecisionOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Outputs per image (stem = file name without extension):
${SEGMENT_FORMATS.map((format) => `  ${format.padEnd(13)} <stem>${OUTPUT_FORMATS[format].suffix({ overlayFormat: 'jpeg' })}`).join('\n')}

Outputs per video (${VIDEO_FILE_EXTENSIONS.join(', ')}; needs ffmpeg on the PATH or CITYSEG_FFMPEG):
  overlay, color  <stem>_overlay.mp4, <stem>_color.mp4: H.264 MP4 with the input's size, rate and frames
  always          <stem>.jsonl: per frame {frame, time, classes: [{index, name, fraction, rle?}]}
  --frames        <stem>_frames/000000<suffix>: each frame in the other formats above
Ctrl-C during a video stops at a frame boundary and leaves none of that video's outputs (exit status 130).

${INFERENCE_MODE_HELP.trim()}

A file that cannot be read or decoded is reported (file: reason) and skipped; the others are still
written, and the exit status is 1.

Without --weights: fastseg's Cityscapes-trained MobileV3Large LR-ASPP (19 classes, fastseg:mobilev3large-lraspp-f128;
Cityscapes' licence: non-commercial use), fetched once into the cache; where it cannot be had, or with --weights
none, the same architecture untrained (seeded, with a warning). torchvision's VOC LR-ASPP stays a preset
(--weights torchvision:lraspp_mobilenet_v3_large).

Examples:
  cityseg segment --out masks street.jpg
  cityseg segment --format overlay --out out drive.mp4
  cityseg segment --format overlay,json --rle --fps 2 --out out dashcam/
  cityseg segment --weights lraspp_cityscapes.pth --out masks street.jpg
  cityseg segment --format labelIds --out preds leftImg8bit/val
  cityseg segment --mode slide --size native --format labelIds,json --out out panorama.jpg
  cityseg segment --scales 0.75,1,1.25 --flip --out out street.jpg
  cityseg segment --format color,overlay --alpha 0.4 --size 512 --out out 'photos/**/*.jpg'
  cityseg segment --format json --rle --labels voc --num-classes 21 --arch lraspp_mobilenet_v3_large \\
    --weights lraspp_mobilenet_v3_large-d234d4ea.pth --out out photos/`,
  );
  return cmd.action(segmentAction);
}
