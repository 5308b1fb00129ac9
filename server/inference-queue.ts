/** Executes one job. The in-process runner and a worker-pool runner both fit behind this. */
export interface JobRunner<Job, Result> {
  /**
   * `lane`: the runner the job was submitted for (SubmitOptions.lane), when it has several. `cancelled` aborts once nobody waits for the result any more (the runner may stop, or give up on, the job).
   */
  run(job: Job, lane?: string, cancelled?: AbortSignal): Promise<Result>;
  /** Releases what the runner holds (engines, worker threads). */
  close(): Promise<void>;
}

/**
 * What decides, besides a free slot, whether a job may start: consulted for the job at the head of the queue (FIFO:
 * a job that does not fit yet is not overtaken by smaller ones behind it). `Need` is what each job asks of it, given
 * with the job's SubmitOptions. The memory budget (server/memory-budget.ts) is the service's.
 */
export interface AdmissionPolicy<Need> {
  /** The error refusing a job that could never start (checked at submit), or undefined. */
  refusal(need: Need): Error | undefined;
  /** Whether the job can start now; true reserves what it needs until finish(need). */
  tryStart(need: Need): boolean;
  /** Gives back what tryStart reserved, once the job has finished. */
  finish(need: Need): void;
}

export interface QueueOptions<Need = object> {
  /** Jobs running at once: 1 for the main thread, the pool size for workers. */
  concurrency: number;
  /** Jobs allowed to wait; one more is refused with QueueFullError. */
  limit: number;
  /** Default budget from submit to result when a job brings no deadline; past it QueueTimeoutError is thrown. */
  timeoutMs: number;
  /** Whether the head job may start (its memory); without one, a free slot is enough. */
  admission?: AdmissionPolicy<Need>;
  /**
   * Jobs a lane (one model's runner) may run at once; a job whose lane is full is passed over by the jobs behind it
   * for other lanes, so one busy model does not hold up the others. Jobs without a lane are bounded by concurrency alone.
   */
  lanes?: { capacity(lane: string): number };
}

/** Per job: when it must be done, how to tell a running job to stop, and its lane (with `Need`: what the admission policy reads). */
export interface SubmitOptions {
  /** `performance.now()` time by which the result must be there (e.g. the request's arrival + its timeout). */
  deadline?: number;
  /** The whole budget the deadline came from, for the timeout's message (default: the time left at submit). */
  timeoutMs?: number;
  /** The caller gave up (client gone): a waiting job is dropped, a running one cancelled. */
  signal?: AbortSignal;
  /** Called once if the job is running when its caller stops waiting (timeout, abort, shutdown). */
  onCancel?: () => void;
  /** Called when the job leaves the queue for the runner. */
  onStart?: () => void;
  /** The runner this job goes to (see QueueOptions.lanes). */
  lane?: string;
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

interface Pending<Job, Result, Need> {
  job: Job;
  /** What the admission policy reads (the job's SubmitOptions). */
  need: Need;
  resolve: (result: Result) => void;
  reject: (error: Error) => void;
  settled: boolean;
  timer: NodeJS.Timeout;
  onAbort?: () => void;
  signal?: AbortSignal;
  onStart?: () => void;
  lane?: string;
  /** Milliseconds the job had from submit to its deadline, for the timeout's message. */
  budgetMs: number;
  running: boolean;
  onCancel?: () => void;
  /** Aborted when a running job's caller stops waiting (the runner's `cancelled`). */
  cancelled?: AbortController;
}

/** First guess of a job's duration, until a job has finished (only feeds Retry-After). */
const INITIAL_JOB_MS = 1000;
/** Weight of the newest duration in the running average. */
const EWMA_WEIGHT = 0.2;

/**
 * A bounded FIFO in front of a JobRunner. Full → QueueFullError; a job starts when a slot is free and the
 * admission policy lets it (its memory fits the budget); a job still waiting at its deadline is removed and never
 * runs; a job that runs past its deadline (or whose caller vanished) answers QueueTimeoutError at once, is told to stop
 * (`onCancel`), and keeps its slot and memory until the runner returns. Jobs start on setImmediate so I/O
 * (health checks) is served between two inferences even when the runner blocks the main thread.
 */
export class InferenceQueue<Job, Result, Need extends object = object> {
  private readonly waiting: Pending<Job, Result, Need>[] = [];
  private readonly active = new Set<Pending<Job, Result, Need>>();
  private runningCount = 0;
  private closed = false;
  private averageJobMs = INITIAL_JOB_MS;
  private idleWaiters: (() => void)[] = [];
  private pumpScheduled = false;
  private readonly laneRunning = new Map<string, number>();
  private laneWaiters: { lane: string; resolve: () => void }[] = [];
  private concurrencyLimit: number;

  private readonly runner: JobRunner<Job, Result>;
  private readonly options: QueueOptions<Need>;
  constructor(
    runner: JobRunner<Job, Result>,
    options: QueueOptions<Need>,
  ) {
    this.runner = runner;
    this.options = options;
    this.concurrencyLimit = options.concurrency;
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
    return this.concurrencyLimit;
  }

  /** A new total when the runners change (a model repository reload); at least 1. */
  setConcurrency(jobs: number): void {
    this.concurrencyLimit = Math.max(1, jobs);
    this.schedulePump();
  }

  /** Resolves once no job of `lane` waits or runs (a retired model's runner may then be closed). */
  laneIdle(lane: string): Promise<void> {
    if (!this.laneBusy(lane)) return Promise.resolve();
    return new Promise((resolve) => this.laneWaiters.push({ lane, resolve }));
  }

  /** Jobs allowed to wait. */
  get limit(): number {
    return this.options.limit;
  }

  /**
   * Whether `inFlight` jobs (waiting, running, or on their way in, such as a request whose body is arriving) fill
   * the queue: at most `limit` waiting plus `concurrency` running. Slots held back by the admission policy count as
   * waiting room.
   */
  isFull(inFlight: number): boolean {
    return inFlight >= this.options.limit + this.concurrencyLimit;
  }

  private laneBusy(lane: string): boolean {
    return this.waiting.some((p) => p.lane === lane) || [...this.active].some((p) => p.lane === lane);
  }

  /** Seconds until a new job would likely start, rounded up, at least 1. */
  retryAfterSeconds(): number {
    const ahead = this.waiting.length + this.runningCount;
    return Math.max(1, Math.ceil((ahead * this.averageJobMs) / this.concurrencyLimit / 1000));
  }

  submit(job: Job, options: SubmitOptions & Need = {} as SubmitOptions & Need): Promise<Result> {
    const { signal } = options;
    const refusal = this.options.admission?.refusal(options);
    if (refusal) return Promise.reject(refusal);
    if (this.closed) {
      return Promise.reject(new QueueClosedError('the server is shutting down', this.retryAfterSeconds()));
    }
    if (signal?.aborted) return Promise.reject(new JobAbortedError());
    if (this.isFull(this.waiting.length + this.runningCount)) {
      return Promise.reject(
        new QueueFullError(`inference queue is full (${this.options.limit} waiting)`, this.retryAfterSeconds()),
      );
    }
    const budgetMs = Math.max(0, Math.round((options.deadline ?? performance.now() + this.options.timeoutMs) - performance.now()));
    return new Promise<Result>((resolve, reject) => {
      const pending: Pending<Job, Result, Need> = {
        job,
        need: options,
        resolve,
        reject,
        settled: false,
        signal,
        budgetMs: options.timeoutMs ?? budgetMs,
        running: false,
        onCancel: options.onCancel,
        onStart: options.onStart,
        lane: options.lane,
        timer: setTimeout(() => this.expire(pending), budgetMs),
      };
      if (signal) {
        pending.onAbort = () => {
          if (this.removeWaiting(pending)) {
            this.settle(pending, new JobAbortedError());
            this.notifyIfIdle();
          } else this.cancelRunning(pending, new JobAbortedError());
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
    await this.idle();
    await this.runner.close();
  }

  /** Resolves once no job waits or runs (a cancelled job runs until its runner returns). */
  idle(): Promise<void> {
    if (this.waiting.length === 0 && this.runningCount === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops accepting jobs (without waiting): new submits get QueueClosedError. */
  stopAccepting(): void {
    this.closed = true;
  }

  /**
   * Answers every accepted job now with `error` (waiting ones never start; running ones are cancelled and keep
   * their slot until the runner returns). Used when a shutdown's drain cannot finish in its budget.
   */
  rejectAll(error: () => Error): void {
    for (const pending of this.waiting.splice(0)) this.settle(pending, error());
    for (const pending of this.active) this.cancelRunning(pending, error());
    this.notifyIfIdle();
  }

  private expire(pending: Pending<Job, Result, Need>): void {
    const wasWaiting = this.removeWaiting(pending);
    const where = wasWaiting ? 'waiting in the queue' : 'running';
    const error = new QueueTimeoutError(`inference took longer than ${pending.budgetMs} ms (${where})`, this.retryAfterSeconds());
    if (wasWaiting) {
      this.settle(pending, error);
      this.notifyIfIdle();
    } else {
      this.cancelRunning(pending, error);
    }
  }

  /** A running job's caller stops waiting: answer it now and tell the runner to stop at its next checkpoint. */
  private cancelRunning(pending: Pending<Job, Result, Need>, error: Error): void {
    if (pending.settled || !pending.running) return;
    this.settle(pending, error);
    pending.onCancel?.();
    pending.cancelled?.abort(error);
  }

  private removeWaiting(pending: Pending<Job, Result, Need>): boolean {
    const index = this.waiting.indexOf(pending);
    if (index < 0) return false;
    this.waiting.splice(index, 1);
    return true;
  }

  private settle(pending: Pending<Job, Result, Need>, outcome: Error | { result: Result }): void {
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

  private laneHasRoom(lane: string | undefined): boolean {
    const lanes = this.options.lanes;
    return lane === undefined || lanes === undefined || (this.laneRunning.get(lane) ?? 0) < lanes.capacity(lane);
  }

  private pump(): void {
    const admission = this.options.admission;
    let index = 0;
    while (this.runningCount < this.concurrencyLimit && index < this.waiting.length) {
      const head = this.waiting[index];
      // Its model's runner is busy: the jobs behind it for other models go first (a job keeps its place in its lane).
      if (!this.laneHasRoom(head.lane)) {
        index += 1;
        continue;
      }
      // FIFO over memory too: the head waits for room rather than being overtaken by smaller jobs.
      if (admission && !admission.tryStart(head.need)) break;
      this.waiting.splice(index, 1);
      void this.execute(head);
    }
  }

  private async execute(pending: Pending<Job, Result, Need>): Promise<void> {
    this.runningCount += 1;
    if (pending.lane !== undefined) this.laneRunning.set(pending.lane, (this.laneRunning.get(pending.lane) ?? 0) + 1);
    pending.running = true;
    pending.onStart?.();
    this.active.add(pending);
    const started = performance.now();
    pending.cancelled = new AbortController();
    try {
      const result = await this.runner.run(pending.job, pending.lane, pending.cancelled.signal);
      this.settle(pending, { result });
    } catch (error) {
      this.settle(pending, error instanceof Error ? error : new Error(String(error)));
    } finally {
      const elapsed = performance.now() - started;
      this.averageJobMs += EWMA_WEIGHT * (elapsed - this.averageJobMs);
      this.runningCount -= 1;
      if (pending.lane !== undefined) this.laneRunning.set(pending.lane, (this.laneRunning.get(pending.lane) ?? 1) - 1);
      this.active.delete(pending);
      this.options.admission?.finish(pending.need);
      if (this.waiting.length > 0) this.schedulePump();
      this.notifyIfIdle();
    }
  }

  private notifyIfIdle(): void {
    if (this.laneWaiters.length > 0) {
      const waiters = this.laneWaiters;
      this.laneWaiters = waiters.filter(({ lane }) => this.laneBusy(lane));
      for (const waiter of waiters) if (!this.laneWaiters.includes(waiter)) waiter.resolve();
    }
    if (this.waiting.length > 0 || this.runningCount > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
