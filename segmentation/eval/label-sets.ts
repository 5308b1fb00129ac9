/**
 * The label sets evalPixelLevelSemanticLabeling.py derives from labels.py, computed once from
 * cityscapes-facts so every score function reads the same tables.
 */
import { CITYSCAPES_LABELS, type CityscapesLabelFact } from './cityscapes-facts.js';

/** `args.evalLabels`: every label with a non-negative id, ignored or not, in id order. */
export const MATRIX_LABEL_IDS: readonly number[] = CITYSCAPES_LABELS.filter((l) => l.id >= 0)
  .map((l) => l.id)
  .sort((a, b) => a - b);

/** The confusion matrix is `(maxId + 1)²`, indexed by label id for both ground truth and prediction. */
export const MATRIX_SIZE = Math.max(...MATRIX_LABEL_IDS) + 1;

/** Label facts indexed by id (0..MATRIX_SIZE-1); undefined for ids that are not labels. */
export const LABEL_BY_ID: readonly (CityscapesLabelFact | undefined)[] = Array.from({ length: MATRIX_SIZE }, (_, id) =>
  CITYSCAPES_LABELS.find((l) => l.id === id),
);

/** The 19 evaluated classes (`ignoreInEval` false), in id order, as the script prints them. */
export const EVALUATED_CLASSES: readonly CityscapesLabelFact[] = MATRIX_LABEL_IDS.map((id) => LABEL_BY_ID[id]!).filter(
  (l) => !l.ignoreInEval,
);

/** Ground-truth rows whose pixels can be false positives of another class. */
export const NOT_IGNORED_IDS: readonly number[] = EVALUATED_CLASSES.map((l) => l.id);

/** Instance-level (iIoU) classes: evaluated classes whose ground truth has instances. */
export const INSTANCE_CLASSES: readonly CityscapesLabelFact[] = EVALUATED_CLASSES.filter((l) => l.hasInstances);

export interface CategorySet {
  name: string;
  labelIds: readonly number[];
}

/** Category names in the order labels.py first mentions them (the script's `category2labels` order). */
const CATEGORY_NAMES: readonly string[] = [...new Set(CITYSCAPES_LABELS.map((l) => l.category))];

const labelsOf = (category: string): CityscapesLabelFact[] => CITYSCAPES_LABELS.filter((l) => l.category === category);

/**
 * Categories scored by IoU, each with its evaluated label ids (`getIouScoreForCategory`);
 * `void` has none, so the script's score for it is always NaN and it is left out.
 */
export const EVALUATED_CATEGORIES: readonly CategorySet[] = CATEGORY_NAMES.map((name) => ({
  name,
  labelIds: labelsOf(name)
    .filter((l) => !l.ignoreInEval && l.id >= 0)
    .map((l) => l.id),
})).filter((c) => c.labelIds.length > 0);

/**
 * Categories scored by iIoU (`generateInstanceStats`): every label with an id ≥ 0 has instances.
 * Their label ids include ignored ones (caravan, trailer): a prediction of those counts for the category.
 */
export const INSTANCE_CATEGORIES: readonly CategorySet[] = CATEGORY_NAMES.map((name) => {
  const members = labelsOf(name).filter((l) => l.id >= 0);
  return { name, members };
})
  .filter(({ members }) => members.every((l) => l.hasInstances))
  .map(({ name, members }) => ({ name, labelIds: members.map((l) => l.id) }));
