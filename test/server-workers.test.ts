import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { appWithDefaultModels, decodeRaw, encodeImage, testConfig } from './server-helpers.js';

describe('inference in a pool of worker threads (CITYSEG_WORKERS=2)', () => {
  let pooled: FastifyInstance;
  let inProcess: FastifyInstance;

  before(async () => {
    pooled = await appWithDefaultModels(testConfig({ CITYSEG_WORKERS: '2', CITYSEG_MAX_PIXELS: '100000' }));
    inProcess = await appWithDefaultModels(testConfig({ CITYSEG_WORKERS: '0' }));
  });
  after(async () => {
    await pooled.close();
    await inProcess.close();
  });

  const post = (app: FastifyInstance, url: string, payload: Buffer, type = 'image/png') =>
    app.inject({ method: 'POST', url, payload, headers: { 'content-type': type } });

  it('gives exactly the in-process answers, also when 8 requests run at once', async () => {
    const images = await Promise.all(Array.from({ length: 8 }, (_, seed) => encodeImage(72, 40 + seed * 4, seed)));
    const expected = [];
    for (const image of images) {
      const res = await post(inProcess, '/v1/segment?format=trainIds', image);
      expected.push((await decodeRaw(res.rawPayload)).data);
    }
    const answers = await Promise.all(images.map((image) => post(pooled, '/v1/segment?format=trainIds', image)));
    for (const [i, res] of answers.entries()) {
      assert.equal(res.statusCode, 200);
      assert.deepEqual((await decodeRaw(res.rawPayload)).data, expected[i], `image ${i}`);
    }
    const jpeg = await encodeImage(120, 90, 3, 'jpeg');
    const [a, b] = await Promise.all([post(pooled, '/v1/classify?topk=7', jpeg, 'image/jpeg'), post(inProcess, '/v1/classify?topk=7', jpeg, 'image/jpeg')]);
    assert.equal(a.statusCode, 200);
    assert.deepEqual(a.json(), b.json());
  });

  it('keeps typed errors across the thread boundary: 413, 415, 422 with their details', async () => {
    const png = await encodeImage(64, 48, 1);
    const huge = await encodeImage(400, 300, 1);
    const cases: [Buffer, number, string, RegExp][] = [
      [huge, 413, 'urn:cityseg:problem:image-too-large', /400x300 = 120000 pixels, over the limit of 100000/],
      [Buffer.from('not an image at all'), 415, 'urn:cityseg:problem:unsupported-media-type', /not an image in any recognised format/],
      [png.subarray(0, 100), 422, 'urn:cityseg:problem:unprocessable-image', /truncated or corrupt/],
    ];
    for (const [body, status, type, detail] of cases) {
      const res = await post(pooled, '/v1/segment', body);
      assert.equal(res.statusCode, status);
      assert.equal(res.json().type, type);
      assert.match(res.json().detail, detail);
    }
  });

  it('describes the models the workers loaded', async () => {
    const { models } = (await pooled.inject({ method: 'GET', url: '/v1/models' })).json();
    const { models: reference } = (await inProcess.inject({ method: 'GET', url: '/v1/models' })).json();
    assert.deepEqual(models, reference);
    assert.equal((await pooled.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
  });
});
