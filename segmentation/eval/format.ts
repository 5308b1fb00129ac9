/** The per-class and per-category tables evalPixelLevelSemanticLabeling.py prints (uncoloured). */
import { EVALUATED_CATEGORIES, EVALUATED_CLASSES } from './label-sets.js';
import type { EvalResult, Score } from './types.js';

const RULE = '-'.repeat(32);

/**
 * Python's `'{:>5.3f}'`: 3 decimals, right-aligned in 5, NaN as `nan`. Python rounds exact ties to
 * even where toFixed rounds them up; at 3 decimals a double ties only at odd multiples of 1/16.
 */
export function formatScore(score: Score): string {
  if (score === null || Number.isNaN(score)) return '  nan';
  const sixteenths = score * 16;
  const isTie = Number.isInteger(sixteenths) && sixteenths % 2 !== 0;
  if (!isTie) return score.toFixed(3).padStart(5);
  const below = score * 1000 - 0.5;
  const even = below % 2 === 0 ? below : below + 1;
  return (even / 1000).toFixed(3).padStart(5);
}

function table(
  heading: string,
  names: readonly string[],
  iou: Record<string, Score>,
  iIoU: Record<string, Score> | null,
  means: [Score, Score],
): string[] {
  const rows = names.map((name) => `${name.padEnd(14)}: ${formatScore(iou[name])}    ${formatScore(iIoU?.[name] ?? null)}`);
  return [
    heading,
    RULE,
    ...rows,
    RULE,
    `Score Average : ${formatScore(means[0])}    ${formatScore(means[1])}`,
    RULE,
  ];
}

/** Classes then categories, IoU and nIoU (iIoU) columns; `nan` where a score is undefined or not computed. */
export function formatEvalTable(result: EvalResult): string {
  const classes = table(
    'classes          IoU      nIoU',
    EVALUATED_CLASSES.map((l) => l.name),
    result.classIoU,
    result.iIoU,
    [result.mIoU, result.mIIoU],
  );
  const categories = table(
    'categories       IoU      nIoU',
    EVALUATED_CATEGORIES.map((c) => c.name),
    result.categoryIoU,
    result.categoryIIoU,
    [result.mCategoryIoU, result.mCategoryIIoU],
  );
  return [...classes, '', ...categories, ''].join('\n');
}
