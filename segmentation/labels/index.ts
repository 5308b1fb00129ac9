import { readFile } from 'node:fs/promises';
import { ClassCountMismatchError, LabelSetError } from '../errors.js';
import { cityscapes } from './cityscapes.js';
import { parseLabelFileText } from './custom.js';
import { voc } from './voc.js';
import type { LabelSet } from './types.js';

export type { LabelClass, LabelSet, Rgb } from './types.js';
export { CITYSCAPES_LABELS, type CityscapesLabel } from './cityscapes-table.js';
export { cityscapes, CITYSCAPES_IGNORE_TRAIN_ID } from './cityscapes.js';
export { voc, vocPaletteColor, VOC_CLASS_NAMES, VOC_IGNORE_INDEX } from './voc.js';
export { parseLabelFile, parseLabelFileText } from './custom.js';

export const BUILTIN_LABEL_SETS: Readonly<Record<'cityscapes' | 'voc', LabelSet>> = { cityscapes, voc };

export type BuiltinLabelSetName = keyof typeof BUILTIN_LABEL_SETS;

function isBuiltin(name: string): name is BuiltinLabelSetName {
  return Object.hasOwn(BUILTIN_LABEL_SETS, name);
}

/** A built-in label set by name, or a custom JSON label file by path. */
export async function labelSetFor(name: BuiltinLabelSetName | string): Promise<LabelSet> {
  if (isBuiltin(name)) return BUILTIN_LABEL_SETS[name];
  let text: string;
  try {
    text = await readFile(name, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new LabelSetError(name, `is neither a built-in label set (${Object.keys(BUILTIN_LABEL_SETS).join(', ')}) nor a readable file (${reason})`, { cause: err });
  }
  return parseLabelFileText(text, name);
}

/** Refuse pairing a model with a label set of another size. */
export function checkClassCount(labelSet: LabelSet, numClasses: number): void {
  if (labelSet.classes.length !== numClasses) {
    throw new ClassCountMismatchError(labelSet.name, labelSet.classes.length, numClasses);
  }
}

