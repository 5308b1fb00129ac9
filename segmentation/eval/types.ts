import type { ClassMap } from '../types.js';

/** One channel of Cityscapes label ids (not trainIds), plus where it came from for error messages. */
export interface LabelIdImage extends ClassMap {
  /** File path, or a description for in-memory images (e.g. `model prediction for <gt file>`). */
  source: string;
}

/** `*_gtFine_instanceIds.png`: `labelId * 1000 + k` for instances, the plain label id elsewhere. */
export interface InstanceIdImage {
  data: Uint16Array | Uint32Array | Int32Array;
  width: number;
  height: number;
  source: string;
}

/** One image's worth of evaluation input; `instances` must be given for all pairs or for none. */
export interface EvalPair {
  groundTruth: LabelIdImage;
  prediction: LabelIdImage;
  instances?: InstanceIdImage;
}

/** A score the script would report as NaN (nothing to score) is `null`. */
export type Score = number | null;

export interface EvalResult {
  nImages: number;
  /** Mean over the classes whose IoU is not null. */
  mIoU: Score;
  /** The 19 evaluated classes by labels.py name, in label-id order. */
  classIoU: Record<string, Score>;
  mCategoryIoU: Score;
  /** The 7 categories with evaluated classes (flat … vehicle). */
  categoryIoU: Record<string, Score>;
  /** iIoU of the 8 instance classes (person … bicycle); null when no instance files were given. */
  iIoU: Record<string, Score> | null;
  mIIoU: Score;
  /** iIoU of `human` and `vehicle`; null when no instance files were given. */
  categoryIIoU: Record<string, Score> | null;
  mCategoryIIoU: Score;
  /** Pixel counts, row = ground-truth label id, column = predicted label id (34 × 34). */
  confusion: number[][];
}
