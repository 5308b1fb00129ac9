/**
 * The Cityscapes facts the official pixel-level evaluation depends on, kept here (not imported from
 * segmentation/labels) so the evaluation has no moving dependency. Values are those of
 * cityscapesScripts' helpers/labels.py and evaluation/evalPixelLevelSemanticLabeling.py;
 * test/eval-facts.test.ts checks every row against a copy of the official label table.
 */

export interface CityscapesLabelFact {
  name: string;
  /** The id written in `*_gtFine_labelIds.png` and expected in prediction PNGs. */
  id: number;
  /** 255 = not trained; -1 only for license plate. */
  trainId: number;
  category: string;
  catId: number;
  /** Whether `*_gtFine_instanceIds.png` holds separate instances (`id * 1000 + k`) for it. */
  hasInstances: boolean;
  ignoreInEval: boolean;
}

type FactRow = [name: string, id: number, trainId: number, category: string, catId: number, hasInstances: boolean, ignoreInEval: boolean];

// prettier-ignore
const LABEL_ROWS: readonly FactRow[] = [
  ['unlabeled',             0, 255, 'void',         0, false, true ],
  ['ego vehicle',           1, 255, 'void',         0, false, true ],
  ['rectification border',  2, 255, 'void',         0, false, true ],
  ['out of roi',            3, 255, 'void',         0, false, true ],
  ['static',                4, 255, 'void',         0, false, true ],
  ['dynamic',               5, 255, 'void',         0, false, true ],
  ['ground',                6, 255, 'void',         0, false, true ],
  ['road',                  7,   0, 'flat',         1, false, false],
  ['sidewalk',              8,   1, 'flat',         1, false, false],
  ['parking',               9, 255, 'flat',         1, false, true ],
  ['rail track',           10, 255, 'flat',         1, false, true ],
  ['building',             11,   2, 'construction', 2, false, false],
  ['wall',                 12,   3, 'construction', 2, false, false],
  ['fence',                13,   4, 'construction', 2, false, false],
  ['guard rail',           14, 255, 'construction', 2, false, true ],
  ['bridge',               15, 255, 'construction', 2, false, true ],
  ['tunnel',               16, 255, 'construction', 2, false, true ],
  ['pole',                 17,   5, 'object',       3, false, false],
  ['polegroup',            18, 255, 'object',       3, false, true ],
  ['traffic light',        19,   6, 'object',       3, false, false],
  ['traffic sign',         20,   7, 'object',       3, false, false],
  ['vegetation',           21,   8, 'nature',       4, false, false],
  ['terrain',              22,   9, 'nature',       4, false, false],
  ['sky',                  23,  10, 'sky',          5, false, false],
  ['person',               24,  11, 'human',        6, true,  false],
  ['rider',                25,  12, 'human',        6, true,  false],
  ['car',                  26,  13, 'vehicle',      7, true,  false],
  ['truck',                27,  14, 'vehicle',      7, true,  false],
  ['bus',                  28,  15, 'vehicle',      7, true,  false],
  ['caravan',              29, 255, 'vehicle',      7, true,  true ],
  ['trailer',              30, 255, 'vehicle',      7, true,  true ],
  ['train',                31,  16, 'vehicle',      7, true,  false],
  ['motorcycle',           32,  17, 'vehicle',      7, true,  false],
  ['bicycle',              33,  18, 'vehicle',      7, true,  false],
  ['license plate',        -1,  -1, 'vehicle',      7, false, true ],
];

/** All 35 labels of labels.py, in its order. */
export const CITYSCAPES_LABELS: readonly CityscapesLabelFact[] = LABEL_ROWS.map(
  ([name, id, trainId, category, catId, hasInstances, ignoreInEval]) =>
    Object.freeze({ name, id, trainId, category, catId, hasInstances, ignoreInEval }),
);

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
