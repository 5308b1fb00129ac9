import os from 'node:os';

/** Summary statistics of a list of timings, in the shape of one benchmark row. */
export interface LatencySummary {
  runs: number;
  p50_ms: number;
  p95_ms: number;
  mean_ms: number;
}

/** Nearest-rank percentile of sorted values (q in 0..1). */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export function summarize(timesMs: readonly number[]): LatencySummary {
  const sorted = [...timesMs].sort((a, b) => a - b);
  const round = (v: number) => Math.round(v * 10) / 10;
  return {
    runs: sorted.length,
    p50_ms: round(percentile(sorted, 0.5)),
    p95_ms: round(percentile(sorted, 0.95)),
    mean_ms: round(sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length)),
  };
}

export function parseSize(text: string): [height: number, width: number] {
  const match = /^(\d+)x(\d+)$/.exec(text);
  if (!match) throw new RangeError(`size must be HEIGHTxWIDTH, e.g. 512x1024, got '${text}'`);
  return [Number(match[1]), Number(match[2])];
}

/** The 1-minute load average now (the machine may be shared: every figure is reported with it). */
export function loadAverage(): number {
  return Math.round(os.loadavg()[0] * 100) / 100;
}
