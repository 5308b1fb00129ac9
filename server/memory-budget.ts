import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';

/**
 * The process's memory budget: what the operator allows (CITYSEG_MEMORY_BUDGET), else the container's cgroup
 * limit, else a share of the machine. Requests are admitted against what is left after the baseline (models
 * loaded and warmed) and a headroom for the runtime (V8 heap growth, libvips caches, allocator slack).
 */

/** Above this a cgroup reports "no limit" (v1 prints 2^63 rounded down to a page). */
const NO_LIMIT = 2 ** 60;
/** Share of the machine's memory used when neither a setting nor a cgroup limit says otherwise. */
const MACHINE_SHARE = 0.5;
/** Kept out of the request budget: garbage not yet collected, allocator slack, sockets (measured: ~5-8%). */
export const HEADROOM_FRACTION = 0.1;

/** The cgroup (v2, then v1) memory limit of this process in bytes, or undefined when there is none. */
export function cgroupMemoryLimit(read: (path: string) => string = (p) => readFileSync(p, 'utf8')): number | undefined {
  for (const path of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    try {
      const text = read(path).trim();
      if (text === 'max') return undefined;
      const bytes = Number(text);
      if (Number.isFinite(bytes) && bytes > 0 && bytes < NO_LIMIT) return bytes;
      return undefined;
    } catch {
      // Not this cgroup version; try the next file.
    }
  }
  return undefined;
}

export interface BudgetSource {
  bytes: number;
  /** Where the number came from, for the start-up log and /metrics. */
  source: 'setting' | 'cgroup' | 'machine';
}

/** The whole-process budget: the setting if given, else the cgroup limit, else half the machine's memory. */
export function resolveMemoryBudget(setting: number | 'auto', cgroupLimit = cgroupMemoryLimit(), machine = totalmem()): BudgetSource {
  if (setting !== 'auto') return { bytes: setting, source: 'setting' };
  if (cgroupLimit !== undefined) return { bytes: cgroupLimit, source: 'cgroup' };
  return { bytes: Math.floor(machine * MACHINE_SHARE), source: 'machine' };
}

/** Bytes the requests may share: the budget less the baseline RSS and the headroom (never negative). */
export function requestCapacity(budget: number, baselineRss: number): number {
  return Math.max(0, Math.floor(budget * (1 - HEADROOM_FRACTION) - baselineRss));
}

/**
 * A counting semaphore over bytes. Reservations are all-or-nothing; `tryReserve` never waits (the inference
 * queue keeps its own FIFO of jobs waiting for memory, so a large job at the head is not overtaken forever).
 */
export class MemoryBudget {
  private reservedBytes = 0;
  private peakBytes = 0;
  private capacityBytes: number;

  constructor(capacity: number) {
    this.capacityBytes = capacity;
  }

  /** Bytes the requests may hold at once. */
  get capacity(): number {
    return this.capacityBytes;
  }

  /** Bytes held by admitted requests now. */
  get reserved(): number {
    return this.reservedBytes;
  }

  /** Most bytes held at once since start. */
  get peak(): number {
    return this.peakBytes;
  }

  /** Set once the baseline is known (after the models are loaded and warmed). */
  setCapacity(bytes: number): void {
    this.capacityBytes = Math.max(0, bytes);
  }

  /** Whether `bytes` could ever be admitted, i.e. fit into an empty budget. */
  fitsEver(bytes: number): boolean {
    return bytes <= this.capacityBytes;
  }

  /** Reserves `bytes` if they fit now; false (nothing reserved) otherwise. */
  tryReserve(bytes: number): boolean {
    if (this.reservedBytes + bytes > this.capacityBytes) return false;
    this.reservedBytes += bytes;
    this.peakBytes = Math.max(this.peakBytes, this.reservedBytes);
    return true;
  }

  /**
   * Counts `bytes` that exist already (an answer made, bytes received): held even past the capacity, which then
   * keeps later requests out until they are released.
   */
  hold(bytes: number): void {
    this.reservedBytes += bytes;
    this.peakBytes = Math.max(this.peakBytes, this.reservedBytes);
  }

  release(bytes: number): void {
    this.reservedBytes = Math.max(0, this.reservedBytes - bytes);
  }
}

/** `1.5 GiB`-style text for messages. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
