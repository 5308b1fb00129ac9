import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import type { AdmissionPolicy } from './inference-queue.js';

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

/** The engine memory a job's forward pass needs, and the engine (`key`) it runs on, held `copies` times (one per worker thread). */
export interface ArenaNeed {
  key: string;
  bytes: number;
  copies: number;
}

/** What a job asks of the memory budget (the inference queue's SubmitOptions carry it). */
export interface MemoryNeed {
  /** Bytes of working memory reserved while the job runs, the forward pass's share (`arena.bytes`) included. */
  cost?: number;
  /**
   * ONNX Runtime's arena keeps the largest pass's memory after it: the first job that needs more moves the
   * difference out of the budget for good (times `copies`).
   */
  arena?: ArenaNeed;
}

/** A job whose working memory exceeds everything the budget could ever admit. */
export class MemoryLimitError extends Error {
  readonly cost: number;
  readonly capacity: number;
  constructor(cost: number, capacity: number) {
    super(
      `this request needs about ${formatBytes(cost)} of working memory, more than the ${formatBytes(capacity)} the ` +
        'memory budget leaves for requests (CITYSEG_MEMORY_BUDGET): send a smaller image or a smaller size',
    );
    this.name = 'MemoryLimitError';
    this.cost = cost;
    this.capacity = capacity;
  }
}

/**
 * A counting semaphore over bytes, and the inference queue's admission policy: a job starts once its working
 * memory fits, and the engine arenas' growth leaves the capacity for good. Reservations are all-or-nothing;
 * nothing here waits (the queue keeps its own FIFO of jobs waiting for memory, so a large job at the head is not
 * overtaken forever).
 */
export class MemoryBudget implements AdmissionPolicy<MemoryNeed> {
  private reservedBytes = 0;
  private peakBytes = 0;
  private capacityBytes: number;
  /** Engine memory held by the arenas, by engine key (bytes per arena). */
  private readonly arenaHeld = new Map<string, number>();
  /** Bytes each arena key took out of the capacity (its size times the engine copies). */
  private readonly arenaTaken = new Map<string, number>();

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

  /** Set once the baseline is known (after the models are loaded and warmed); leave arenaBytes out of it. */
  setCapacity(bytes: number): void {
    this.capacityBytes = Math.max(0, bytes);
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

  /** Bytes the arenas took out of the capacity for good (a capacity set afresh must leave them out). */
  get arenaBytes(): number {
    let total = 0;
    for (const bytes of this.arenaTaken.values()) total += bytes;
    return total;
  }

  /** Drops the arena accounting of an engine that was released. */
  forgetArena(key: string): void {
    this.arenaHeld.delete(key);
    this.arenaTaken.delete(key);
  }

  /** MemoryLimitError when the job would not fit even into an empty budget. */
  refusal({ cost = 0, arena }: MemoryNeed): Error | undefined {
    return this.transient(cost, arena) + this.arenaGrowth(arena) > this.capacityBytes ? new MemoryLimitError(cost, this.capacityBytes) : undefined;
  }

  /** Reserves the job's transient memory and any arena growth if they fit now; the growth leaves the capacity for good. */
  tryStart({ cost = 0, arena }: MemoryNeed): boolean {
    const growth = this.arenaGrowth(arena);
    if (!this.tryReserve(this.transient(cost, arena) + growth)) return false;
    if (arena && growth > 0) {
      // The arena keeps this for good: it leaves the reservation and the capacity together.
      this.release(growth);
      this.setCapacity(this.capacityBytes - growth);
      this.arenaHeld.set(arena.key, arena.bytes);
      this.arenaTaken.set(arena.key, arena.bytes * arena.copies);
    }
    return true;
  }

  /** Releases what tryStart reserved for the job. */
  finish({ cost = 0, arena }: MemoryNeed): void {
    this.release(this.transient(cost, arena));
  }

  /** The pass itself runs in the arena, which left the budget when it grew: only the rest is transient. */
  private transient(cost: number, arena: ArenaNeed | undefined): number {
    return cost - (arena?.bytes ?? 0);
  }

  /** Bytes an arena must grow by for this pass (once per worker thread holding the model). */
  private arenaGrowth(arena: ArenaNeed | undefined): number {
    return arena ? Math.max(0, arena.bytes - (this.arenaHeld.get(arena.key) ?? 0)) * arena.copies : 0;
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
