import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import sharp from 'sharp';
import { buildApp } from '../server/app.js';
import { tempDir } from './cli-helpers.js';
import { appWithDefaultModels, encodeImage, eventually, GatedRunner, testConfig } from './server-helpers.js';

/**
 * The /v2 routes under the service's bounds: the infer route shares /v1/segment's admission (in-flight cap, memory
 * budget), and every refusal — 503 at the headers, 413 memory, 401 keys, 429 rate limit, not ready — is the
 * protocol's `{"error"}` with the status and headers /v1 answers with.
 */

const SEG = 'lraspp_mobilenet_v3_large';

function assertError(res: { status: number; headers: Headers } | LightMyRequestResponse, body: unknown, status: number, message: RegExp): void {
  const actual = 'statusCode' in res ? res.statusCode : res.status;
  assert.equal(actual, status, JSON.stringify(body));
  const type = 'statusCode' in res ? String(res.headers['content-type']) : res.headers.get('content-type');
  assert.match(type ?? '', /^application\/json/);
  assert.deepEqual(Object.keys(body as object), ['error']);
  assert.match((body as { error: string }).error, message);
}

const inferBody = (png: Buffer) => JSON.stringify({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [png.toString('base64')] }] });



describe('/v2 under the service bounds', () => {
  it('shares /v1/segment\'s in-flight cap: with the queue full, infer is refused at the headers with 503 {"error"} and Retry-After', async () => {
    let runner: GatedRunner | undefined;
    const app = await appWithDefaultModels(testConfig({ CITYSEG_CLASSIFIER_ARCH: 'none', CITYSEG_QUEUE_LIMIT: '1' }), {
      runner: (runners) => (runner = new GatedRunner(runners)),
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    assert.ok(runner);
    const gated = runner;
    try {
      const png = await encodeImage(64, 48, 1);
      const queue = app.inference.queue;
      const infer = () => fetch(`${base}/v2/models/${SEG}/infer`, { method: 'POST', body: inferBody(png), headers: { 'content-type': 'application/json' } });
      const segment = () => fetch(`${base}/v1/segment?format=json`, { method: 'POST', body: new Uint8Array(png), headers: { 'content-type': 'image/png' } });
      // Both APIs fill the same slots and waiting room.
      const accepted = [segment(), infer()];
      await eventually(() => queue.running === queue.concurrency);
      accepted.push(infer());
      await eventually(() => queue.depth === 1);

      const refused = await infer();
      assertError(refused, await refused.json(), 503, /inference queue is full \(1 waiting, 2 running\)/);
      assert.equal(refused.headers.get('retry-after'), '2');
      assert.equal(refused.headers.get('connection'), 'close');
      const refusedRest = await segment();
      assert.equal(refusedRest.status, 503);
      assert.match(refusedRest.headers.get('content-type') ?? '', /^application\/problem\+json/);

      gated.open();
      const results = await Promise.all(accepted);
      assert.deepEqual(results.map((r) => r.status), [200, 200, 200]);
      assert.equal(gated.started.length, 3);
    } finally {
      gated.open();
      await app.close();
    }
  });

  it('admits the memory estimate from the image header before decoding: over the budget is 413 {"error"}', async () => {
    // 8000x4000 of one colour: a small PNG whose decoded pixels alone would take ~200 MB.
    const png = await sharp({ create: { width: 8000, height: 4000, channels: 3, background: { r: 90, g: 120, b: 60 } } }).png().toBuffer();
    const budget = process.memoryUsage().rss + 256 * 1024 ** 2;
    const app = await appWithDefaultModels(testConfig({ CITYSEG_CLASSIFIER_ARCH: 'none', CITYSEG_MEMORY_BUDGET: String(budget) }));
    try {
      const res = await app.inject({ method: 'POST', url: `/v2/models/${SEG}/infer`, payload: inferBody(png), headers: { 'content-type': 'application/json' } });
      assertError(res, res.json(), 413, /this request needs about .* of working memory, more than the .* the memory budget leaves/);
      assert.equal(app.budget.reserved, 0, 'nothing stays reserved');
    } finally {
      await app.close();
    }
  });

  it('API keys: infer and model metadata without a key are 401 {"error"} with WWW-Authenticate; the probes stay open', async () => {
    const dir = await tempDir('oip-keys');
    const keys = path.join(dir.dir, 'keys');
    await writeFile(keys, 'oip-key-5e1d9a7c\n');
    const app = await buildApp(testConfig({ CITYSEG_API_KEYS: keys, CITYSEG_CLASSIFIER_ARCH: 'none' }));
    try {
      for (const request of [{ url: '/v2' }, { url: `/v2/models/${SEG}` }, { url: `/v2/models/${SEG}/infer`, method: 'POST' as const, payload: '{}' }]) {
        const res = await app.inject(request);
        assertError(res, res.json(), 401, /this route needs an API key: send Authorization: Bearer <key>/);
        assert.equal(res.headers['www-authenticate'], 'Bearer realm="cityseg"');
      }
      assert.equal((await app.inject({ url: '/v2/health/live' })).statusCode, 200);
      // Open, and not ready: the app has no models loaded.
      const ready = await app.inject({ url: '/v2/health/ready' });
      assertError(ready, ready.json(), 503, /models are not loaded yet/);
      const keyed = await app.inject({ url: `/v2/models/${SEG}`, headers: { authorization: 'Bearer oip-key-5e1d9a7c' } });
      // Still loading: any name may be one of the models to come, so not ready (503) rather than unknown (404).
      assertError(keyed, keyed.json(), 503, /model "lraspp_mobilenet_v3_large" is not ready: models are not loaded yet/);
      const modelReady = await app.inject({ url: `/v2/models/${SEG}/ready`, headers: { authorization: 'Bearer oip-key-5e1d9a7c' } });
      assertError(modelReady, modelReady.json(), 503, /is not ready/);
    } finally {
      await app.close();
      await dir.cleanup();
    }
  });

  it('URLs refused before routing (bad percent-encoding, an over-long name) are {"error"} under /v2 too', async () => {
    const app = await buildApp(testConfig({ CITYSEG_CLASSIFIER_ARCH: 'none' }));
    try {
      const bad = await app.inject({ url: '/v2/models/%zz' });
      assertError(bad, bad.json(), 400, /^the URL is not validly percent-encoded$/);
      const long = await app.inject({ url: `/v2/models/${'a'.repeat(200)}/ready` });
      assertError(long, long.json(), 414, /^a path segment is longer than the server accepts$/);
      const rest = await app.inject({ url: '/v1/models/%zz' });
      assert.match(String(rest.headers['content-type']), /^application\/problem\+json/);
    } finally {
      await app.close();
    }
  });

  it('rate limit: past the limit /v2 answers 429 {"error"} with Retry-After; the probes are not limited', async () => {
    const app = await buildApp(testConfig({ CITYSEG_RATE_LIMIT_MAX: '1', CITYSEG_RATE_LIMIT_WINDOW_MS: '3600000', CITYSEG_CLASSIFIER_ARCH: 'none' }));
    try {
      await app.inject({ url: `/v2/models/${SEG}` });
      const res = await app.inject({ url: `/v2/models/${SEG}` });
      assertError(res, res.json(), 429, /more than 1 requests in 3600000 ms from this client/);
      assert.ok(Number(res.headers['retry-after']) > 0);
      for (let i = 0; i < 3; i++) assert.equal((await app.inject({ url: '/v2/health/live' })).statusCode, 200);
    } finally {
      await app.close();
    }
  });
});
