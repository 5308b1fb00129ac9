/**
 * The Cityscapes facts the official pixel-level evaluation depends on: the label table (shared with the label sets,
 * segmentation/labels/cityscapes-table.ts) and the values of cityscapesScripts'
 * evaluation/evalPixelLevelSemanticLabeling.py. test/eval-facts.test.ts checks every row against a copy of the
 * official label table.
 */
import { CITYSCAPES_LABELS as TABLE, type CityscapesLabel } from '../labels/cityscapes-table.js';

/** What the evaluation reads of a label (the table's colour is not among them). */
export type CityscapesLabelFact = Omit<CityscapesLabel, 'color'>;

/** All 35 labels of labels.py, in its order. */
export const CITYSCAPES_LABELS: readonly CityscapesLabelFact[] = TABLE.map(({ color: _color, ...fact }) => Object.freeze(fact));

/**
 * `args.avgClassSize`: mean instance area (pixels) per class over the training set. iIoU weighs
 * every instance's pixels by this / its own area, so large and small objects count alike.
 */
export const AVG_CLASS_SIZE: Readonly<Record<string, number>> = Object.freeze({
  bicycle: 4672.3249222261,
  caravan: 36771.8241758242,
  motorcycle: 6298.7200839748,
  rider: 3930.4788056518,
  bus: 35732.1511111111,
  train: 67583.7075812274,
  car: 12794.0202738185,
  person: 3462.4756337644,
  truck: 27855.1264367816,
  trailer: 16926.9763313609,
});

/** Instance ids in `*_gtFine_instanceIds.png` are `labelId * 1000 + index`; smaller values are plain label ids. */
export const INSTANCE_ID_DIVISOR = 1000;
