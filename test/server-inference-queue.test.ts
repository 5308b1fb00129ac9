import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryBudget, MemoryLimitError } from '../server/memory-budget.js';
import {
  InferenceQueue,
  JobAbortedError,
  QueueClosedError,
  QueueFullError,
  QueueTimeoutError,
  type AdmissionPolicy,
  type JobRunner,
} from '../server/inference-queue.js';

/** Runs `job` ms of work (a timer), records start order and how many ran at once. */
class RecordingRunner implements JobRunner<number, number> {
  started: number[] = [];
  active = 0;
  maxActive = 0;
  closed = false;

  async run(job: number): Promise<number> {
    this.started.push(job);
    this.active += 1;
    this.maxActive = Math.max(this.maxActive, this.active);
    await sleep(job);
    this.active -= 1;
    return job * 2;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** Holds each job until the test opens it (or, once `opensAll`, answers at once); answers job * 2. */
class GatedRunner implements JobRunner<number, number> {
  started: number[] = [];
  opensAll = false;
  private readonly gates = new Map<number, () => void>();

  run(job: number): Promise<number> {
    this.started.push(job);
    if (this.opensAll) return Promise.resolve(job * 2);
    return new Promise((resolve) => this.gates.set(job, () => resolve(job * 2)));
  }

  open(job: number): void {
    this.gates.get(job)!();
  }

  async close(): Promise<void> {}
}

describe('InferenceQueue', () => {
  it('runs jobs in FIFO order, never more than `concurrency` at once', async () => {
    const runner = new RecordingRunner();
    const queue = new InferenceQueue(runner, { concurrency: 2, limit: 10, timeoutMs: 5000 });
    const results = await Promise.all([30, 10, 20, 5, 15].map((ms) => queue.submit(ms)));
    assert.deepEqual(results, [60, 20, 40, 10, 30]);
    assert.deepEqual(runner.started, [30, 10, 20, 5, 15]);
    assert.equal(runner.maxActive, 2);
    assert.equal(queue.depth, 0);
    assert.equal(queue.running, 0);
  });

  it('refuses a job when `limit` are already waiting, with a Retry-After estimate', async () => {
    const queue = new InferenceQueue(new RecordingRunner(), { concurrency: 1, limit: 2, timeoutMs: 5000 });
    const accepted = [queue.submit(40)];
    await sleep(5); // the first job has started
    accepted.push(queue.submit(1), queue.submit(1));
    assert.equal(queue.running, 1);
    assert.equal(queue.depth, 2);
    await assert.rejects(queue.submit(1), (error: unknown) => {
      assert.ok(error instanceof QueueFullError);
      assert.equal(error.message, 'inference queue is full (2 waiting)');
      // 3 jobs ahead at the initial 1000 ms guess each, one at a time → 3 s
      assert.equal(error.retryAfterSeconds, 3);
      return true;
    });
    assert.deepEqual(await Promise.all(accepted), [80, 2, 2]);
  });

  it('drops a job whose deadline passes while it waits: it never runs', async () => {
    const runner = new RecordingRunner();
    const queue = new InferenceQueue(runner, { concurrency: 1, limit: 10, timeoutMs: 50 });
    const first = queue.submit(30);
    const second = queue.submit(30);
    assert.equal(await first, 60);
    await assert.rejects(second, (error: unknown) => {
      assert.ok(error instanceof QueueTimeoutError);
      assert.match(error.message, /longer than 50 ms \(running\)/);
      return true;
    });
    const third = queue.submit(100);
    const fourth = queue.submit(7);
    await assert.rejects(third, /longer than 50 ms \(running\)/);
    await assert.rejects(fourth, /longer than 50 ms \(waiting in the queue\)/);
    await sleep(80);
    assert.deepEqual(runner.started, [30, 30, 100]);
  });

  it('removes a waiting job whose caller aborts, and never runs it', async () => {
    const runner = new RecordingRunner();
    const queue = new InferenceQueue(runner, { concurrency: 1, limit: 10, timeoutMs: 5000 });
    const controller = new AbortController();
    const running = queue.submit(20);
    const abandoned = queue.submit(5, { signal: controller.signal });
    await sleep(2);
    controller.abort();
    await assert.rejects(abandoned, JobAbortedError);
    assert.equal(queue.depth, 0);
    assert.equal(await running, 40);
    await sleep(10);
    assert.deepEqual(runner.started, [20]);
  });

  it('passes the runner’s error through unchanged', async () => {
    const failure = new Error('engine exploded');
    const queue = new InferenceQueue<number, number>(
      { run: async () => Promise.reject(failure), close: async () => undefined },
      { concurrency: 1, limit: 1, timeoutMs: 1000 },
    );
    await assert.rejects(queue.submit(1), (error) => error === failure);
  });

  it('close() refuses new jobs, waits for accepted ones, then closes the runner', async () => {
    const runner = new RecordingRunner();
    const queue = new InferenceQueue(runner, { concurrency: 1, limit: 10, timeoutMs: 5000 });
    const inFlight = [queue.submit(20), queue.submit(20)];
    const closing = queue.close();
    await assert.rejects(queue.submit(1), QueueClosedError);
    assert.equal(runner.closed, false);
    await closing;
    assert.equal(runner.closed, true);
    assert.deepEqual(await Promise.all(inFlight), [40, 40]);
  });

  it('keeps the event loop responsive between jobs that block it', async () => {
    const blockMs = 30;
    const busyRunner: JobRunner<number, number> = {
      async run(job) {
        const until = performance.now() + blockMs;
        while (performance.now() < until); // synchronous work, like an in-process forward pass
        return job;
      },
      close: async () => undefined,
    };
    const queue = new InferenceQueue(busyRunner, { concurrency: 1, limit: 20, timeoutMs: 10_000 });
    const jobs = Array.from({ length: 10 }, (_, i) => queue.submit(i));
    // A timer due now must fire after at most one job, not after all ten (300 ms).
    const t0 = performance.now();
    await sleep(0);
    const waited = performance.now() - t0;
    assert.ok(waited < 2.5 * blockMs, `timer waited ${waited.toFixed(1)} ms behind blocking jobs`);
    assert.deepEqual(await Promise.all(jobs), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('refuses nonsensical options', () => {
    assert.throws(() => new InferenceQueue(new RecordingRunner(), { concurrency: 0, limit: 1, timeoutMs: 1 }), RangeError);
  });

  it('admits by memory first in, first out; a job that can never fit is refused; arenas keep their largest pass', async () => {
    const budget = new MemoryBudget(1000);
    const runner = new GatedRunner();
    const queue = new InferenceQueue(runner, { concurrency: 4, limit: 10, timeoutMs: 5000, admission: budget });
    await assert.rejects(queue.submit(1, { cost: 1001 }), MemoryLimitError);
    // 600 + 600 do not fit together: the second waits although a slot is free.
    const first = queue.submit(30, { cost: 600 });
    const second = queue.submit(1, { cost: 600 });
    // The pump that started the first looked at the second too, and left it waiting.
    while (runner.started.length === 0) await sleep(1);
    assert.deepEqual(runner.started, [30]);
    assert.equal(queue.running, 1);
    assert.equal(budget.reserved, 600);
    runner.open(30);
    assert.equal(await first, 60);
    while (!runner.started.includes(1)) await sleep(1);
    assert.equal(budget.reserved, 600);
    runner.opensAll = true;
    runner.open(1);
    assert.equal(await second, 2);
    assert.equal(budget.reserved, 0);
    // A pass of 300 in arena "m" (its cost 500 includes it): the arena keeps 300 for good, 200 was transient.
    await queue.submit(1, { cost: 500, arena: { key: 'm', bytes: 300, copies: 1 } });
    assert.equal(budget.capacity, 700);
    assert.equal(budget.reserved, 0);
    // A smaller pass in the same arena needs no new engine memory; a larger one grows it by the difference, twice
    // with two worker threads.
    await queue.submit(1, { cost: 400, arena: { key: 'm', bytes: 200, copies: 1 } });
    assert.equal(budget.capacity, 700);
    await queue.submit(1, { cost: 450, arena: { key: 'm', bytes: 350, copies: 2 } });
    assert.equal(budget.capacity, 600);
    assert.equal(budget.peak, 600);
    // A job whose whole cost is over the shrunken capacity still fits: its pass runs in the arena already held.
    await queue.submit(1, { cost: 700, arena: { key: 'm', bytes: 350, copies: 2 } });
    assert.equal(budget.capacity, 600);
  });
  it('asks the admission policy passed in: its refusal at submit, the head waiting for room with no job let past it', async () => {
    const log: string[] = [];
    let room = 2;
    const tokens: AdmissionPolicy<{ tokens?: number }> = {
      refusal: ({ tokens = 0 }) => (tokens > 2 ? new RangeError(`${tokens} tokens, 2 at most`) : undefined),
      tryStart({ tokens = 0 }) {
        if (tokens > room) return false;
        room -= tokens;
        log.push(`start ${tokens}`);
        return true;
      },
      finish({ tokens = 0 }) {
        room += tokens;
        log.push(`finish ${tokens}`);
      },
    };
    const queue = new InferenceQueue(new RecordingRunner(), { concurrency: 3, limit: 10, timeoutMs: 5000, admission: tokens });
    await assert.rejects(queue.submit(1, { tokens: 3 }), /3 tokens, 2 at most/);
    // Two tokens taken: the one-token job waits although a slot is free, and the free job behind it waits too.
    const results = await Promise.all([queue.submit(20, { tokens: 2 }), queue.submit(1, { tokens: 1 }), queue.submit(1, { tokens: 0 })]);
    assert.deepEqual(results, [40, 2, 2]);
    assert.deepEqual(log.slice(0, 4), ['start 2', 'finish 2', 'start 1', 'start 0']);
    assert.deepEqual(log.slice(4).sort(), ['finish 0', 'finish 1']);
    assert.equal(room, 2);
  });
  it('lanes: a job whose model runner is full is passed over by jobs for other models, never by its own', async () => {
    const started: string[] = [];
    const gates = new Map<string, () => void>();
    const runner: JobRunner<string, string> = {
      run(job, lane) {
        started.push(`${lane}:${job}`);
        return new Promise((resolve) => gates.set(job, () => resolve(job)));
      },
      close: async () => undefined,
    };
    const capacities: Record<string, number> = { a: 1, b: 1 };
    const queue = new InferenceQueue(runner, { concurrency: 2, limit: 10, timeoutMs: 5000, lanes: { capacity: (lane) => capacities[lane] } });
    const a1 = queue.submit('a1', { lane: 'a' });
    const a2 = queue.submit('a2', { lane: 'a' });
    const a3 = queue.submit('a3', { lane: 'a' });
    const b1 = queue.submit('b1', { lane: 'b' });
    await sleep(5);
    // a1 fills a's runner: b1 starts ahead of a2 and a3, which keep their order.
    assert.deepEqual(started, ['a:a1', 'b:b1']);
    assert.equal(queue.depth, 2);
    let idle = false;
    const laneB = queue.laneIdle('b').then(() => (idle = true));
    gates.get('b1')!();
    await b1;
    await laneB;
    assert.ok(idle);
    gates.get('a1')!();
    await a1;
    await sleep(5);
    assert.deepEqual(started, ['a:a1', 'b:b1', 'a:a2']);
    gates.get('a2')!();
    await a2;
    await sleep(5);
    gates.get('a3')!();
    assert.equal(await a3, 'a3');
    assert.deepEqual(started, ['a:a1', 'b:b1', 'a:a2', 'a:a3']);
  });
});
