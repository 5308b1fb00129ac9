import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { appWithDefaultModels, encodeImage, eventually, GatedRunner, testConfig } from './server-helpers.js';


async function gatedApp(env: Record<string, string>): Promise<{ app: FastifyInstance; runner: GatedRunner; base: string }> {
  let runner: GatedRunner | undefined;
  const app = await appWithDefaultModels(testConfig({ CITYSEG_CLASSIFIER_ARCH: 'none', ...env }), {
    runner: (runners) => (runner = new GatedRunner(runners)),
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  assert.ok(runner);
  return { app, runner, base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
}


const post = (base: string, body: Buffer, signal?: AbortSignal) =>
  fetch(`${base}/v1/segment?format=json`, { method: 'POST', body: new Uint8Array(body), headers: { 'content-type': 'image/png' }, signal });

describe('inference queue limits over HTTP', () => {
  it('answers 503 + Retry-After when the queue is full, serves /healthz meanwhile, then completes the accepted work', async () => {
    const { app, runner, base } = await gatedApp({ CITYSEG_QUEUE_LIMIT: '2' });
    try {
      const png = await encodeImage(64, 48, 1);
      const queue = app.inference.queue;
      // Fill every running slot (the queue admits more than one job so decoding overlaps inference), then the queue.
      const slots = queue.concurrency;
      assert.equal(slots, 2, 'main-thread inference admits 2 jobs: one infers while the next decodes');
      const accepted = Array.from({ length: slots }, () => post(base, png));
      await eventually(() => queue.running === slots);
      accepted.push(post(base, png), post(base, png));
      await eventually(() => queue.depth === 2);

      const refused = await post(base, png);
      assert.equal(refused.status, 503);
      assert.match(refused.headers.get('content-type') ?? '', /^application\/problem\+json/);
      // slots + 2 jobs ahead, each estimated at the queue's initial 1 s guess (the gated runner has finished none),
      // run `slots` at a time.
      assert.equal(refused.headers.get('retry-after'), String(Math.ceil((slots + 2) / slots)));
      assert.deepEqual(await refused.json(), {
        type: 'urn:cityseg:problem:queue-full',
        title: 'Server busy',
        status: 503,
        detail: 'inference queue is full (2 waiting, 2 running)',
      });

      // Decided from the headers: the request body was never read, and the connection closes after the answer.
      assert.equal(refused.headers.get('connection'), 'close');
      // A body that can never be taken is the client's mistake, and says so even while the queue is full: 413, no
      // Retry-After.
      const oversized = await new Promise<{ status: number; retryAfter: unknown; body: string }>((resolve, reject) => {
        const request = http.request(`${base}/v1/segment`, {
          method: 'POST',
          headers: { 'content-type': 'image/png', 'content-length': String(app.config.bodyLimit + 1) },
        });
        request.on('response', (response) => {
          let body = '';
          response.on('data', (chunk: Buffer) => (body += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, retryAfter: response.headers['retry-after'], body }));
        });
        request.on('error', reject);
        request.flushHeaders();
      });
      assert.equal(oversized.status, 413);
      assert.equal(oversized.retryAfter, undefined);
      assert.equal(JSON.parse(oversized.body).type, 'urn:cityseg:problem:payload-too-large');
      assert.match(JSON.parse(oversized.body).detail, new RegExp(`larger than the server accepts \\(${app.config.bodyLimit} bytes\\)`));
      const health = await fetch(`${base}/healthz`);
      assert.equal(health.status, 200);

      runner.open();
      const results = await Promise.all(accepted);
      assert.deepEqual(results.map((r) => r.status), Array(slots + 2).fill(200));
      assert.equal(runner.started.length, slots + 2);
    } finally {
      runner.open();
      await app.close();
    }
  });

  it('answers 503 when a request times out, and never runs a job whose deadline passed while it waited', async () => {
    const { app, runner, base } = await gatedApp({ CITYSEG_REQUEST_TIMEOUT_MS: '300' });
    try {
      const png = await encodeImage(64, 48, 2);
      const queue = app.inference.queue;
      const slots = queue.concurrency;
      const first = Array.from({ length: slots }, () => post(base, png));
      await eventually(() => queue.running === slots);
      const waiting = post(base, png);

      const responses = await Promise.all([...first, waiting]);
      for (const res of responses) {
        assert.equal(res.status, 503);
        assert.match(res.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
      }
      for (const running of responses.slice(0, slots)) {
        assert.equal((await running.json()).detail, 'inference took longer than 300 ms (running)');
      }
      assert.equal((await responses[slots].json()).detail, 'inference took longer than 300 ms (waiting in the queue)');

      runner.open();
      await eventually(() => queue.running === 0);
      assert.equal(runner.started.length, slots, 'the timed-out waiting job must not run');
      const later = await post(base, png);
      assert.equal(later.status, 200);
      assert.equal(runner.started.length, slots + 1);
    } finally {
      runner.open();
      await app.close();
    }
  });

  it('drops a waiting job whose client disconnected', async () => {
    const { app, runner, base } = await gatedApp({});
    try {
      const png = await encodeImage(64, 48, 3);
      const queue = app.inference.queue;
      const slots = queue.concurrency;
      const first = Array.from({ length: slots }, () => post(base, png));
      await eventually(() => queue.running === slots);

      const { port } = app.server.address() as AddressInfo;
      const abandoned = http.request({
        port,
        host: '127.0.0.1',
        method: 'POST',
        path: '/v1/segment',
        headers: { 'content-type': 'image/png', 'content-length': png.length },
      });
      abandoned.on('error', () => undefined);
      abandoned.end(png);
      await eventually(() => queue.depth === 1);
      abandoned.destroy();
      await eventually(() => queue.depth === 0);

      runner.open();
      assert.deepEqual((await Promise.all(first)).map((r) => r.status), Array(slots).fill(200));
      await sleep(50);
      assert.equal(runner.started.length, slots, 'the abandoned job must not run');
      assert.equal((await fetch(`${base}/healthz`)).status, 200);
    } finally {
      runner.open();
      await app.close();
    }
  });
});
