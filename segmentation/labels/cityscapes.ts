import { CITYSCAPES_LABELS } from './cityscapes-table.js';
import type { LabelSet } from './types.js';

/** trainId of every label the 19-class models are not trained on. */
export const CITYSCAPES_IGNORE_TRAIN_ID = 255;

/** The 19 Cityscapes training classes: index = trainId, id = label id, official colours. */
export const cityscapes: LabelSet = {
  name: 'cityscapes',
  classes: CITYSCAPES_LABELS.filter((l) => l.trainId >= 0 && l.trainId !== CITYSCAPES_IGNORE_TRAIN_ID)
    .sort((a, b) => a.trainId - b.trainId)
    .map((l) => ({
      index: l.trainId,
      id: l.id,
      name: l.name,
      color: [...l.color],
      category: l.category,
      categoryId: l.catId,
    })),
  ignoreIndex: CITYSCAPES_IGNORE_TRAIN_ID,
};
