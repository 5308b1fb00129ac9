/** The built-in label set a model of a given class count is served with when none is named. */
import { LabelSetError } from '../errors.js';
import { BUILTIN_LABEL_SETS, type BuiltinLabelSetName } from './index.js';

/**
 * `cityscapes` for 19 classes (its train ids), `voc` for 21 (torchvision's COCO-with-VOC-labels weights).
 * Throws LabelSetError for any other count: the user must name a label set or give a label file.
 */
export function labelSetNameForClassCount(numClasses: number): BuiltinLabelSetName {
  const names = Object.keys(BUILTIN_LABEL_SETS) as BuiltinLabelSetName[];
  const match = names.find((name) => BUILTIN_LABEL_SETS[name].classes.length === numClasses);
  if (match) return match;
  const known = names.map((name) => `${name} ${BUILTIN_LABEL_SETS[name].classes.length}`).join(', ');
  throw new LabelSetError(
    '(none named)',
    `the model has ${numClasses} classes, which no built-in label set has (${known}); name one with --labels (CITYSEG_LABELS) or give a label file`,
  );
}
