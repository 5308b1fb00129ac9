/**
 * Video jobs on disk: one folder per job under the jobs directory, holding `job.json` (the record below), the
 * upload while it waits or runs, and the results (`result.mp4`, `frames.jsonl`). Records are re-read at start-up,
 * so results outlive a restart until they expire; a job that was waiting or running when the process stopped is
 * marked failed. Ids are 128 random bits (base64url): unguessable, and safe as folder names.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { VideoFormat } from '../../segmentation/video/frame.js';
import type { VideoInfo } from '../../segmentation/video/probe.js';

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed';

/** What a job was asked for: POST /v1/jobs' parameters, resolved. */
export interface JobParams {
  model: string;
  /** Whether the model's weights are trained (false: the seeded init, the result meaningless). */
  trained?: boolean;
  format: VideoFormat;
  size: number | 'native';
  alpha: number;
  rle: boolean;
  fps?: number;
  every?: number;
  maxFrames?: number;
}

export interface JobRecord {
  id: string;
  status: JobStatus;
  params: JobParams;
  /** The upload as ffprobe read it. */
  video: Pick<VideoInfo, 'width' | 'height' | 'rotation' | 'codec' | 'frames' | 'rate' | 'fps' | 'durationSeconds' | 'variableFrameRate'>;
  /** The upload's file name (multipart), for messages. */
  name: string;
  frames: { done: number; total: number };
  /** Frames per second so far, and the seconds left at that rate (running jobs). */
  fps: number;
  etaSeconds: number;
  /** ISO times. `expiresAt` is set once the job has finished. */
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  expiresAt?: string;
  /** Why a failed job failed. */
  error?: string;
}

/** File names inside a job's folder. */
export const JOB_FILES = { record: 'job.json', upload: 'upload', result: 'result.mp4', frames: 'frames.jsonl' } as const;

/** Folder names that can be job ids (and nothing else: no dots, no separators). */
const ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;

export function isJobId(id: string): boolean {
  return ID_PATTERN.test(id);
}

export class JobStore {
  private readonly jobs = new Map<string, JobRecord>();
  private sweepTimer?: NodeJS.Timeout;
  readonly dir: string;
  private readonly ttlMs: number;

  constructor(dir: string, ttlMs: number) {
    this.dir = dir;
    this.ttlMs = ttlMs;
  }

  /** Reads the stored records (unfinished ones become failed, expired ones are removed) and starts the sweeper. */
  async open(now = Date.now()): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const entry of await readdir(this.dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      if (!isJobId(entry.name)) {
        // A folder a crash left while an upload was still arriving (see uploadDir).
        if (entry.name.startsWith('upload-')) await rm(path.join(this.dir, entry.name), { recursive: true, force: true });
        continue;
      }
      let record: JobRecord;
      try {
        record = JSON.parse(await readFile(path.join(this.dir, entry.name, JOB_FILES.record), 'utf8')) as JobRecord;
      } catch {
        await rm(path.join(this.dir, entry.name), { recursive: true, force: true });
        continue;
      }
      if (record.status === 'queued' || record.status === 'running') {
        this.finish(record, 'failed', 'the server stopped while the job was waiting or running', now);
        await rm(this.file(record.id, JOB_FILES.upload), { force: true });
        await rm(this.file(record.id, JOB_FILES.result), { force: true });
        await this.save(record);
      }
      this.jobs.set(record.id, record);
    }
    await this.sweep(now);
    this.sweepTimer = setInterval(() => void this.sweep(), Math.min(60_000, this.ttlMs)).unref();
  }

  close(): void {
    clearInterval(this.sweepTimer);
  }

  /** A fresh unguessable id. */
  static newId(): string {
    return randomBytes(16).toString('base64url');
  }

  /** A private folder for an upload still arriving (renamed to the job's folder once accepted). */
  async uploadDir(): Promise<string> {
    const dir = path.join(this.dir, `upload-${randomBytes(9).toString('base64url')}`);
    await mkdir(dir, { mode: 0o700 });
    return dir;
  }

  /** Moves an accepted upload's folder into place as the job's and stores its record. */
  async create(record: JobRecord, uploadDir: string): Promise<void> {
    await rename(uploadDir, path.join(this.dir, record.id));
    this.jobs.set(record.id, record);
    await this.save(record);
  }

  get(id: string): JobRecord | undefined {
    return isJobId(id) ? this.jobs.get(id) : undefined;
  }

  all(): JobRecord[] {
    return [...this.jobs.values()];
  }

  file(id: string, name: string): string {
    return path.join(this.dir, id, name);
  }

  /** Writes the record (through a temporary file: a crash never leaves half a record). */
  async save(record: JobRecord): Promise<void> {
    if (!this.jobs.has(record.id)) return;
    const target = this.file(record.id, JOB_FILES.record);
    const temporary = `${target}.tmp`;
    await writeFile(temporary, `${JSON.stringify(record)}\n`);
    await rename(temporary, target);
  }

  /** Marks the record finished now, with its expiry. */
  finish(record: JobRecord, status: 'succeeded' | 'failed', error: string | undefined, now = Date.now()): void {
    record.status = status;
    record.finishedAt = new Date(now).toISOString();
    record.expiresAt = new Date(now + this.ttlMs).toISOString();
    record.etaSeconds = 0;
    if (error !== undefined) record.error = error;
  }

  async remove(id: string): Promise<void> {
    this.jobs.delete(id);
    await rm(path.join(this.dir, id), { recursive: true, force: true });
  }

  /** Seconds until the first stored job expires (Retry-After when the store is full); at least 1. */
  secondsUntilRoom(now = Date.now()): number {
    const expiries = this.all().map((job) => (job.expiresAt ? Date.parse(job.expiresAt) : Number.POSITIVE_INFINITY));
    const first = Math.min(...expiries);
    return Number.isFinite(first) ? Math.max(1, Math.ceil((first - now) / 1000)) : Math.max(1, Math.ceil(this.ttlMs / 1000));
  }

  /** Removes every finished job past its expiry. */
  async sweep(now = Date.now()): Promise<void> {
    for (const job of this.all()) {
      if (job.expiresAt && Date.parse(job.expiresAt) <= now) await this.remove(job.id);
    }
  }
}
