/**
 * The model predicts trainIds (0..18) but the evaluation, like the official script, takes label ids;
 * feeding trainIds directly would score road (trainId 0) as unlabeled (label id 0).
 */
import type { ClassMap } from '../types.js';
import { CITYSCAPES_LABELS } from './cityscapes-facts.js';
import { InvalidTrainIdError } from './errors.js';
import type { LabelIdImage } from './types.js';

const NO_LABEL = 255;

/** Label id for each trainId byte value; NO_LABEL where no evaluated class has that trainId. */
const LABEL_ID_OF_TRAIN_ID: Uint8Array = (() => {
  const table = new Uint8Array(256).fill(NO_LABEL);
  for (const label of CITYSCAPES_LABELS) if (!label.ignoreInEval && label.id >= 0) table[label.trainId] = label.id;
  return table;
})();

/** A trainId map (as the model's argmax gives) as label ids, ready for `evaluateArrays`. */
export function labelIdsFromTrainIds(trainIds: ClassMap, source: string): LabelIdImage {
  const data = new Uint8Array(trainIds.data.length);
  for (let i = 0; i < data.length; i++) {
    const id = LABEL_ID_OF_TRAIN_ID[trainIds.data[i]];
    if (id === NO_LABEL) throw new InvalidTrainIdError(source, trainIds.data[i]);
    data[i] = id;
  }
  return { data, width: trainIds.width, height: trainIds.height, source };
}
