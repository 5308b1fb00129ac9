/**
 * Cityscapes pixel-level evaluation equal to cityscapesScripts' evalPixelLevelSemanticLabeling.py
 * (IoU, iIoU, category IoU / iIoU), over folders of PNGs or over in-memory label-id arrays.
 */
import { EvalAccumulator } from './accumulator.js';
import { MissingInstanceFileError } from './errors.js';
import {
  fileExists,
  findGroundTruthFiles,
  findPrediction,
  instanceFileFor,
  listPredictionFiles,
  readInstanceIdPng,
  readLabelIdPng,
} from './files.js';
import type { EvalPair, EvalResult } from './types.js';

export { EvalAccumulator } from './accumulator.js';
export { formatEvalTable } from './format.js';
export { labelIdsFromTrainIds } from './train-ids.js';
export type { EvalPair, EvalResult, InstanceIdImage, LabelIdImage, Score } from './types.js';

export interface EvaluateDirsOptions {
  /** Searched recursively for `<city>_<seq>_<frame>*.png` label-id images. */
  predDir: string;
  /** Searched recursively for `*_gtFine_labelIds.png` (and the `*_gtFine_instanceIds.png` beside them). */
  gtDir: string;
  /** Called after each image with the number done, the total and the ground-truth file. */
  onProgress?: (done: number, total: number, groundTruthFile: string) => void;
}

/** Pairs in any form: an array, a generator, or an async generator that runs a model per image. */
export async function evaluateArrays(pairs: Iterable<EvalPair> | AsyncIterable<EvalPair>): Promise<EvalResult> {
  const accumulator = new EvalAccumulator();
  for await (const pair of pairs) accumulator.add(pair);
  return accumulator.result();
}

interface FilePair {
  groundTruth: string;
  prediction: string;
  instances: string | null;
}

/**
 * Every prediction is matched before any image is read, as the script does, so a missing or
 * duplicate prediction fails fast. iIoU is computed when every ground truth has an instance file.
 */
async function pairFiles(predDir: string, gtDir: string): Promise<FilePair[]> {
  const groundTruthFiles = await findGroundTruthFiles(gtDir);
  const predictionFiles = await listPredictionFiles(predDir);
  const predictions = groundTruthFiles.map((gt) => findPrediction(predictionFiles, gt, predDir));
  const instanceFiles = groundTruthFiles.map(instanceFileFor);
  const present = await Promise.all(instanceFiles.map(fileExists));
  const missing = present.indexOf(false);
  if (missing >= 0 && present.includes(true)) {
    throw new MissingInstanceFileError(groundTruthFiles[missing], instanceFiles[missing]);
  }
  return groundTruthFiles.map((groundTruth, i) => ({
    groundTruth,
    prediction: predictions[i],
    instances: present[i] ? instanceFiles[i] : null,
  }));
}

async function* readPairs(files: readonly FilePair[]): AsyncGenerator<EvalPair> {
  for (const file of files) {
    const [groundTruth, prediction, instances] = await Promise.all([
      readLabelIdPng(file.groundTruth),
      readLabelIdPng(file.prediction),
      file.instances ? readInstanceIdPng(file.instances) : undefined,
    ]);
    yield { groundTruth, prediction, instances };
  }
}

export async function evaluateDirs({ predDir, gtDir, onProgress }: EvaluateDirsOptions): Promise<EvalResult> {
  const files = await pairFiles(predDir, gtDir);
  const accumulator = new EvalAccumulator();
  for await (const pair of readPairs(files)) {
    accumulator.add(pair);
    onProgress?.(accumulator.nImages, files.length, pair.groundTruth.source);
  }
  return accumulator.result();
}
