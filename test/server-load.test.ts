import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { tf } from '../model/engines/tfjs-runtime.js';
import { appWithDefaultModels, decodeRaw, encodeImage, testConfig } from './server-helpers.js';

/** Polls `condition` every 10 ms until it holds or `ms` pass. */
async function eventually(condition: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await sleep(10);
  }
}

describe('a listening server under load', () => {
  let app: FastifyInstance;
  let base: string;
  const images: Buffer[] = [];

  before(async () => {
    app = await appWithDefaultModels(testConfig({ CITYSEG_CLASSIFIER_ARCH: 'none', HOST: '127.0.0.1' }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    for (let seed = 0; seed < 32; seed++) images.push(await encodeImage(64 + (seed % 5) * 8, 48, seed));
  });
  after(() => app.close());

  const segment = async (body: Buffer, query = '?format=trainIds') => {
    const res = await fetch(`${base}/v1/segment${query}`, { method: 'POST', body: new Uint8Array(body), headers: { 'content-type': 'image/png' } });
    return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
  };

  it('answers 32 concurrent requests, each equal to its sequential answer', async () => {
    const sequential: Buffer[] = [];
    for (const image of images) {
      const res = await segment(image);
      assert.equal(res.status, 200);
      sequential.push((await decodeRaw(res.body)).data);
    }
    assert.ok(new Set(sequential.map((mask) => mask.toString('base64'))).size > 16, 'the images give different masks');

    const concurrent = await Promise.all(images.map((image) => segment(image)));
    for (const [i, res] of concurrent.entries()) {
      assert.equal(res.status, 200, `request ${i}`);
      assert.deepEqual((await decodeRaw(res.body)).data, sequential[i], `request ${i}`);
    }
  });

  it('stays healthy when clients vanish mid-upload and mid-inference', async () => {
    const { port } = app.server.address() as AddressInfo;
    const big = await encodeImage(640, 480, 11);
    const abandon = (bytes: Buffer, declaredLength: number, destroyAfterMs: number) =>
      new Promise<void>((resolve) => {
        const req = http.request({
          port,
          host: '127.0.0.1',
          method: 'POST',
          path: '/v1/segment?size=native',
          headers: { 'content-type': 'image/png', 'content-length': declaredLength },
        });
        req.on('error', () => resolve());
        req.on('close', () => resolve());
        req.write(bytes, () => setTimeout(() => req.destroy(), destroyAfterMs));
      });
    await Promise.all([
      abandon(big.subarray(0, 1000), big.length, 5), // body never completes
      abandon(big, big.length, 20), // full body, gone while the job waits or runs
      abandon(big, big.length, 60),
      abandon(big, big.length, 1),
    ]);

    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 200);
    // The abandoned requests leave the in-flight gauge and the queue.
    await eventually(async () => (await app.metrics.inFlight.get()).values[0].value === 0);
    await eventually(() => app.inference.queue.depth === 0 && app.inference.queue.running === 0);
    const after = await segment(images[0]);
    assert.equal(after.status, 200);
  });
});

describe('memory over a few hundred requests (tfjs engine)', () => {
  it('keeps tf.memory().numTensors exactly flat and RSS bounded', async () => {
    // On this thread (no worker threads): tf.memory() counts the tensors of the engines that answer.
    const app = await appWithDefaultModels(testConfig({ CITYSEG_ENGINE: 'tfjs', CITYSEG_INFERENCE_SIZE: '32', CITYSEG_WORKERS: '0' }));
    try {
      assert.equal(app.models.list()[0].model.engineName, 'tfjs');
      const png = await encodeImage(48, 32, 1);
      const jpeg = await encodeImage(40, 40, 2, 'jpeg');
      const requests = [
        { url: '/v1/segment', payload: png, type: 'image/png' },
        { url: '/v1/segment?format=json&rle=true', payload: png, type: 'image/png' },
        { url: '/v1/segment?format=overlay', payload: jpeg, type: 'image/jpeg' },
        { url: '/v1/classify?topk=3', payload: jpeg, type: 'image/jpeg' },
        { url: '/v1/segment', payload: png.subarray(0, 40), type: 'image/png' }, // 422 path too
      ];
      const burst = async (count: number) => {
        for (let i = 0; i < count; i++) {
          const { url, payload, type } = requests[i % requests.length];
          const res = await app.inject({ method: 'POST', url, payload, headers: { 'content-type': type } });
          assert.equal(res.statusCode, i % requests.length === 4 ? 422 : 200, url);
        }
      };
      await burst(50); // warm: first-use allocations, JIT, sharp caches
      const tensors = tf.memory().numTensors;
      const rss = process.memoryUsage().rss;
      await burst(300);
      assert.equal(tf.memory().numTensors, tensors, 'tensors leaked');
      const growthMb = (process.memoryUsage().rss - rss) / 2 ** 20;
      assert.ok(growthMb < 48, `RSS grew by ${growthMb.toFixed(1)} MiB over 300 requests`);
    } finally {
      await app.close();
    }
  });
});
