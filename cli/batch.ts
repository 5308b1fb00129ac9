/**
 * Runs one job per input file: a bad file is reported (one line: file and reason) and skipped, the
 * others go on; counts and rate come back for the summary and the exit status.
 */
import { exitCodeFor } from './report-error.js';
import { ratePerSecond, startProgress } from './progress.js';

/** What a job did with its file: `skipped` = nothing to do (e.g. its outputs already exist). */
export type ItemOutcome = 'processed' | 'skipped';

export interface BatchCounts {
  processed: number;
  skipped: number;
  failed: number;
  seconds: number;
}

export interface BatchOptions<T> {
  /** Progress-bar label. */
  label: string;
  quiet: boolean;
  /** No bar over the items (lines only): items draw their own (videos, frame by frame). */
  noBar?: boolean;
  /** The name the problem line starts with (the input file). */
  nameOf(item: T): string;
  run(item: T): Promise<ItemOutcome>;
}

/** `file: reason`, the one line a failed file gets. */
export function failureLine(file: string, err: unknown): string {
  return `cityseg: ${file}: ${exitCodeFor(err).message}`;
}

/** Failures found before any job ran (missing inputs, name clashes) count as failed items too. */
export async function runBatch<T>(items: readonly T[], opts: BatchOptions<T>, earlierFailures = 0): Promise<BatchCounts> {
  const counts: BatchCounts = { processed: 0, skipped: 0, failed: earlierFailures, seconds: 0 };
  const progress = startProgress({ total: items.length, label: opts.label, quiet: opts.quiet || opts.noBar });
  const startedMs = performance.now();
  try {
    for (const item of items) {
      try {
        counts[await opts.run(item)]++;
      } catch (err) {
        counts.failed++;
        progress.log(failureLine(opts.nameOf(item), err));
      }
      progress.tick();
    }
  } finally {
    progress.stop();
  }
  counts.seconds = (performance.now() - startedMs) / 1000;
  return counts;
}

/** `processed 3, skipped 1, failed 1 in 2.40 s (1.25 images/s)`; the rate counts processed images only. */
export function formatSummary(counts: BatchCounts): string {
  const rate = ratePerSecond(counts.processed, 0, counts.seconds * 1000);
  return (
    `processed ${counts.processed}, skipped ${counts.skipped}, failed ${counts.failed} ` +
    `in ${counts.seconds.toFixed(2)} s (${rate.toFixed(2)} images/s)`
  );
}

/** Raised after a batch in which some inputs failed (each was reported on its own line): exit status 1. */
export class InputsFailedError extends Error {
  override readonly name = 'InputsFailedError';
  readonly failed: number;
  readonly total: number;
  constructor(
    failed: number,
    total: number,
  ) {
    super(`${failed} of ${total} input${total === 1 ? '' : 's'} failed`);
    this.failed = failed;
    this.total = total;
  }
}

/** Throws InputsFailedError when the batch had failures. */
export function checkBatch(counts: BatchCounts): void {
  const total = counts.processed + counts.skipped + counts.failed;
  if (counts.failed > 0) throw new InputsFailedError(counts.failed, total);
}
