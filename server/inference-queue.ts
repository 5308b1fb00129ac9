/** Executes one job. The in-process runner and a worker-pool runner both fit behind this. */
export interface JobRunner<Job, Result> {
  run(job: Job): Promise<Result>;
  /** Releases what the runner holds (engines, worker threads). */
  close(): Promise<void>;
}

export interface QueueOptions {
  /** Jobs running at once: 1 for the main thread, the pool size for workers. */
  concurrency: number;
  /** Jobs allowed to wait; one more is refused with QueueFullError. */
  limit: number;
  /** Budget from submit to result; past it the job is dropped (if still waiting) and QueueTimeoutError is thrown. */
  timeoutMs: number;
}

/** Base of the queue's refusals; `retryAfterSeconds` is the queue's estimate of when to try again. */
export class QueueRejection extends Error {
  readonly retryAfterSeconds: number;
  constructor(
    message: string,
    retryAfterSeconds: number,
  ) {
    super(message);
    this.retryAfterSeconds = retryAfterSeconds;
    this.name = new.target.name;
  }
}

export class QueueFullError extends QueueRejection {}
export class QueueTimeoutError extends QueueRejection {}
export class QueueClosedError extends QueueRejection {}
/** The caller gave up (client disconnected) while its job was still waiting; the job never ran. */
export class JobAbortedError extends Error {
  constructor() {
    super('inference job aborted by the caller before it ran');
    this.name = 'JobAbortedError';
  }
}

interface Pending<Job, Result> {
  job: Job;
  resolve: (result: Result) => void;
  reject: (error: Error) => void;
  settled: boolean;
  timer: NodeJS.Timeout;
  onAbort?: () => void;
  signal?: AbortSignal;
}

/** First guess of a job's duration, until a job has finished (only feeds Retry-After). */
const INITIAL_JOB_MS = 1000;
/** Weight of the newest duration in the running average. */
const EWMA_WEIGHT = 0.2;

/**
 * A bounded FIFO in front of a JobRunner. Full → QueueFullError; a job still waiting at its
 * deadline is removed and never runs; a job that runs past its deadline answers QueueTimeoutError
 * and its late result is discarded. Jobs start on setImmediate so I/O (health checks) is served
 * between two inferences even when the runner blocks the main thread.
 */
export class InferenceQueue<Job, Result> {
  private readonly waiting: Pending<Job, Result>[] = [];
  private runningCount = 0;
  private closed = false;
  private averageJobMs = INITIAL_JOB_MS;
  private idleWaiters: (() => void)[] = [];
  private pumpScheduled = false;

  private readonly runner: JobRunner<Job, Result>;
  private readonly options: QueueOptions;
  constructor(
    runner: JobRunner<Job, Result>,
    options: QueueOptions,
  ) {
    this.runner = runner;
    this.options = options;
    if (!(options.concurrency >= 1) || !(options.limit >= 1) || !(options.timeoutMs > 0)) {
      throw new RangeError(
        `InferenceQueue options: concurrency and limit must be ≥ 1 and timeoutMs > 0, got ${JSON.stringify(options)}`,
      );
    }
  }

  /** Jobs waiting to start. */
  get depth(): number {
    return this.waiting.length;
  }

  /** Jobs running now. */
  get running(): number {
    return this.runningCount;
  }

  /** Jobs allowed to run at once. */
  get concurrency(): number {
    return this.options.concurrency;
  }

  /** Seconds until a new job would likely start, rounded up, at least 1. */
  retryAfterSeconds(): number {
    const ahead = this.waiting.length + this.runningCount;
    return Math.max(1, Math.ceil((ahead * this.averageJobMs) / this.options.concurrency / 1000));
  }

  submit(job: Job, signal?: AbortSignal): Promise<Result> {
    if (this.closed) {
      return Promise.reject(new QueueClosedError('the server is shutting down', this.retryAfterSeconds()));
    }
    if (signal?.aborted) return Promise.reject(new JobAbortedError());
    if (this.waiting.length >= this.options.limit) {
      return Promise.reject(
        new QueueFullError(`inference queue is full (${this.options.limit} waiting)`, this.retryAfterSeconds()),
      );
    }
    return new Promise<Result>((resolve, reject) => {
      const pending: Pending<Job, Result> = {
        job,
        resolve,
        reject,
        settled: false,
        signal,
        timer: setTimeout(() => this.expire(pending), this.options.timeoutMs),
      };
      if (signal) {
        pending.onAbort = () => {
          if (this.removeWaiting(pending)) this.settle(pending, new JobAbortedError());
        };
        signal.addEventListener('abort', pending.onAbort, { once: true });
      }
      this.waiting.push(pending);
      this.schedulePump();
    });
  }

  /** Stops accepting jobs and resolves once every accepted job has finished. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.waiting.length > 0 || this.runningCount > 0) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
    await this.runner.close();
  }

  private expire(pending: Pending<Job, Result>): void {
    const wasWaiting = this.removeWaiting(pending);
    const where = wasWaiting ? 'waiting in the queue' : 'running';
    this.settle(
      pending,
      new QueueTimeoutError(`inference took longer than ${this.options.timeoutMs} ms (${where})`, this.retryAfterSeconds()),
    );
    if (wasWaiting) this.notifyIfIdle();
  }

  private removeWaiting(pending: Pending<Job, Result>): boolean {
    const index = this.waiting.indexOf(pending);
    if (index < 0) return false;
    this.waiting.splice(index, 1);
    return true;
  }

  private settle(pending: Pending<Job, Result>, outcome: Error | { result: Result }): void {
    if (pending.settled) return;
    pending.settled = true;
    clearTimeout(pending.timer);
    if (pending.onAbort) pending.signal?.removeEventListener('abort', pending.onAbort);
    if (outcome instanceof Error) pending.reject(outcome);
    else pending.resolve(outcome.result);
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.runningCount < this.options.concurrency && this.waiting.length > 0) {
      const pending = this.waiting.shift() as Pending<Job, Result>;
      void this.execute(pending);
    }
  }

  private async execute(pending: Pending<Job, Result>): Promise<void> {
    this.runningCount += 1;
    const started = performance.now();
    try {
      const result = await this.runner.run(pending.job);
      this.settle(pending, { result });
    } catch (error) {
      this.settle(pending, error instanceof Error ? error : new Error(String(error)));
    } finally {
      const elapsed = performance.now() - started;
      this.averageJobMs += EWMA_WEIGHT * (elapsed - this.averageJobMs);
      this.runningCount -= 1;
      if (this.waiting.length > 0) this.schedulePump();
      this.notifyIfIdle();
    }
  }

  private notifyIfIdle(): void {
    if (this.waiting.length > 0 || this.runningCount > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
