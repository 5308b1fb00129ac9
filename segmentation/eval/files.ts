/**
 * Finds ground truth and pairs each file with its prediction the way the official script's
 * `getPrediction` does: any `<city>_<seq>_<frame>*.png` anywhere under the prediction folder.
 */
import { access } from 'node:fs/promises';
import path from 'node:path';
import { glob } from 'tinyglobby';
import { OUTPUT_FORMATS } from '../output-formats.js';
import { CityscapesNameError, DuplicatePredictionError, MissingPredictionError, NoGroundTruthError } from './errors.js';

export { readInstanceIdPng, readLabelIdPng } from './id-png.js';

const GT_LABEL_SUFFIX = '_gtFine_labelIds.png';

/** csHelpers' `CsFile`: the parts of `<city>_<seq>_<frame>_<type>[_<type2>].<ext>`. */
export interface CityscapesName {
  city: string;
  sequenceNb: string;
  frameNb: string;
  type: string;
  type2: string;
  ext: string;
}

/** `getCsFileInfo`: split the base name on `_` and its last part on `.`; 5 or 6 parts are valid. */
export function parseCityscapesName(file: string): CityscapesName {
  const parts = path.basename(file).split('_');
  const all = [...parts.slice(0, -1), ...parts[parts.length - 1].split('.')];
  if (all.length === 5) {
    const [city, sequenceNb, frameNb, type, ext] = all;
    return { city, sequenceNb, frameNb, type, type2: '', ext };
  }
  if (all.length === 6) {
    const [city, sequenceNb, frameNb, type, type2, ext] = all;
    return { city, sequenceNb, frameNb, type, type2, ext };
  }
  throw new CityscapesNameError(file, all.length);
}

/** Every `*_gtFine_labelIds.png` under `gtDir` (any depth), sorted; throws when there is none. */
export async function findGroundTruthFiles(gtDir: string): Promise<string[]> {
  const files = await glob(`**/*${GT_LABEL_SUFFIX}`, { cwd: gtDir, absolute: true, dot: true });
  if (files.length === 0) throw new NoGroundTruthError(gtDir);
  return files.sort();
}

/** Every `.png` under `predDir` (any depth), the candidates for `findPrediction`. */
export async function listPredictionFiles(predDir: string): Promise<string[]> {
  return (await glob('**/*.png', { cwd: predDir, absolute: true, dot: true })).sort();
}

/** What `cityseg segment` names its label-id output; eval reads it when a frame has several outputs. */
export const PREDICTION_LABEL_SUFFIX = OUTPUT_FORMATS.labelIds.suffix();

/**
 * The one prediction whose base name matches `<city>_<seq>_<frame>*.png` (fnmatch on POSIX: case-sensitive).
 * Where several match (`cityseg segment`'s default `_labelIds.png` and `_color.png`), the one `*_labelIds.png`;
 * the official script would refuse them. Throws MissingPredictionError / DuplicatePredictionError naming the
 * ground-truth file.
 */
export function findPrediction(predictionFiles: readonly string[], groundTruthFile: string, predDir: string): string {
  const { city, sequenceNb, frameNb } = parseCityscapesName(groundTruthFile);
  const prefix = `${city}_${sequenceNb}_${frameNb}`;
  const matches = predictionFiles.filter((file) => {
    const base = path.basename(file);
    return base.startsWith(prefix) && base.endsWith('.png') && base.length >= prefix.length + '.png'.length;
  });
  if (matches.length === 0) throw new MissingPredictionError(groundTruthFile, `${prefix}*.png`, predDir);
  if (matches.length === 1) return matches[0];
  const labelIds = matches.filter((file) => file.endsWith(PREDICTION_LABEL_SUFFIX));
  if (labelIds.length !== 1) throw new DuplicatePredictionError(groundTruthFile, labelIds.length > 1 ? labelIds : matches);
  return labelIds[0];
}

/** The script's `replace("labelIds", "instanceIds")`, applied to the base name only. */
export function instanceFileFor(groundTruthFile: string): string {
  return path.join(path.dirname(groundTruthFile), path.basename(groundTruthFile).replaceAll('labelIds', 'instanceIds'));
}

export async function fileExists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}
