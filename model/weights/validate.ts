/**
 * Strict check of a loaded state dict against the parameter shapes an architecture expects, reporting every
 * problem at once: a checkpoint for the wrong model or class count typically has dozens.
 */
import { elementCount } from './dtypes.js';
import { WeightsError } from './errors.js';
import type { StateDict } from './state-dict.js';

export interface ValidateOptions {
  /** Names to skip, in addition to BatchNorm's `num_batches_tracked` (never used at inference). */
  ignore?: (name: string) => boolean;
  /** File or URL the state dict came from, for the error message. */
  source?: string;
}

export interface ShapeProblem {
  name: string;
  expected?: number[];
  actual?: number[];
}

/** A tensor whose data length does not match its shape (a reader bug or a hand-built state dict). */
export interface CorruptProblem {
  name: string;
  shape: number[];
  valueCount: number;
}

export interface NonFiniteProblem {
  name: string;
  count: number;
  firstIndex: number;
  firstValue: number;
}

/** Lines of detail in the message; the error's fields always hold everything. */
const MAX_MESSAGE_LINES = 25;

export function isNumBatchesTracked(name: string): boolean {
  return name === 'num_batches_tracked' || name.endsWith('.num_batches_tracked');
}

const formatShape = (shape: number[] | undefined): string => `[${(shape ?? []).join(', ')}]`;

export class StateDictMismatchError extends WeightsError {
  override name = 'StateDictMismatchError';

  readonly missing: ShapeProblem[];
  readonly unexpected: ShapeProblem[];
  readonly wrongShape: ShapeProblem[];
  readonly corrupt: CorruptProblem[];
  readonly nonFinite: NonFiniteProblem[];
  constructor(
    missing: ShapeProblem[],
    unexpected: ShapeProblem[],
    wrongShape: ShapeProblem[],
    corrupt: CorruptProblem[],
    nonFinite: NonFiniteProblem[],
    source: string | undefined,
  ) {
    const lines = [
      ...missing.map((p) => `missing ${p.name}: expected shape ${formatShape(p.expected)}`),
      ...wrongShape.map((p) => `wrong shape ${p.name}: expected ${formatShape(p.expected)}, got ${formatShape(p.actual)}`),
      ...unexpected.map((p) => `unexpected ${p.name}: shape ${formatShape(p.actual)}`),
      ...corrupt.map((p) => `corrupt ${p.name}: shape ${formatShape(p.shape)} but ${p.valueCount} values`),
      ...nonFinite.map((p) => `non-finite ${p.name}: ${p.count} value(s), first ${p.firstValue} at index ${p.firstIndex}`),
    ];
    const shown = lines.slice(0, MAX_MESSAGE_LINES);
    if (lines.length > shown.length) shown.push(`... and ${lines.length - shown.length} more`);
    const problem = `state dict does not match the expected parameters (${lines.length} problem(s)):\n  ${shown.join('\n  ')}`;
    // One unconditional super(): compiled ES2022 class fields need it before any `this`.
    super(source, problem);
    this.missing = missing;
    this.unexpected = unexpected;
    this.wrongShape = wrongShape;
    this.corrupt = corrupt;
    this.nonFinite = nonFinite;
  }
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function findNonFinite(name: string, data: Float32Array): NonFiniteProblem | null {
  let count = 0;
  let firstIndex = -1;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      if (count === 0) firstIndex = i;
      count++;
    }
  }
  return count === 0 ? null : { name, count, firstIndex, firstValue: data[firstIndex] };
}

/**
 * The keys of `actual` (name → shape) against `expected`: the missing, the wrongly shaped and the unexpected ones,
 * leaving out the names `skip` picks (by default BatchNorm's `num_batches_tracked`).
 */
export function compareShapes(
  actual: ReadonlyMap<string, number[]>,
  expected: ReadonlyMap<string, number[]>,
  skip: (name: string) => boolean = isNumBatchesTracked,
): { missing: ShapeProblem[]; wrongShape: ShapeProblem[]; unexpected: ShapeProblem[] } {
  const missing: ShapeProblem[] = [];
  const wrongShape: ShapeProblem[] = [];
  const unexpected: ShapeProblem[] = [];
  for (const [name, shape] of expected) {
    if (skip(name)) continue;
    const found = actual.get(name);
    if (!found) missing.push({ name, expected: shape });
    else if (!sameShape(found, shape)) wrongShape.push({ name, expected: shape, actual: found });
  }
  for (const [name, shape] of actual) {
    if (!skip(name) && !expected.has(name)) unexpected.push({ name, actual: shape });
  }
  return { missing, wrongShape, unexpected };
}

/**
 * Throws StateDictMismatchError (a WeightsError) listing every missing, unexpected, wrongly shaped, corrupt
 * (data length ≠ shape) and non-finite tensor. Returns normally when the state dict fits.
 */
export function validateStateDict(sd: StateDict, expected: Map<string, number[]>, opts: ValidateOptions = {}): void {
  const skip = (name: string): boolean => isNumBatchesTracked(name) || (opts.ignore?.(name) ?? false);
  const shapes = new Map([...sd].map(([name, tensor]) => [name, tensor.shape]));
  const { missing, wrongShape, unexpected } = compareShapes(shapes, expected, skip);
  const corrupt: CorruptProblem[] = [];
  const nonFinite: NonFiniteProblem[] = [];

  for (const [name, tensor] of sd) {
    if (skip(name)) continue;
    if (tensor.data.length !== elementCount(tensor.shape)) {
      corrupt.push({ name, shape: tensor.shape, valueCount: tensor.data.length });
      continue;
    }
    const bad = findNonFinite(name, tensor.data);
    if (bad) nonFinite.push(bad);
  }

  if (missing.length + unexpected.length + wrongShape.length + corrupt.length + nonFinite.length > 0) {
    throw new StateDictMismatchError(missing, unexpected, wrongShape, corrupt, nonFinite, opts.source);
  }
}
