import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import request from 'supertest';
import { IMAGENET_CLASSES } from '../model/imagenet-classes.js';
import { buildApp } from '../server/app.js';
import { appWithDefaultModels, encodeImage, fixedLogitsClassifier, testConfig } from './server-helpers.js';

interface Entry {
  index: number;
  label: string;
  probability: number;
}

describe('POST /v1/classify', () => {
  let app: FastifyInstance;
  let jpeg: Buffer;

  const classify = (query = '', body: Buffer = jpeg, type = 'image/jpeg') =>
    request(app.server).post(`/v1/classify${query}`).set('content-type', type).send(body);

  before(async () => {
    app = await appWithDefaultModels(testConfig());
    jpeg = await encodeImage(300, 200, 2, 'jpeg');
  });
  after(() => app.close());

  const checkRanking = (entries: Entry[]) => {
    for (const entry of entries) {
      assert.equal(entry.label, IMAGENET_CLASSES[entry.index]);
      assert.ok(entry.probability >= 0 && entry.probability <= 1);
    }
    for (let i = 1; i < entries.length; i++) {
      assert.ok(entries[i - 1].probability >= entries[i].probability, `entry ${i} out of order`);
    }
  };

  it('answers the model, that it is untrained, and the 5 most probable ImageNet classes by default, most probable first', async () => {
    const res = await classify();
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^application\/json/);
    assert.equal(res.headers['x-model'], 'mobilenet_v3_large');
    assert.equal(res.headers['x-model-trained'], 'false');
    assert.deepEqual(Object.keys(res.body), ['model', 'trained', 'classes']);
    assert.equal(res.body.model, 'mobilenet_v3_large');
    assert.equal(res.body.trained, false);
    assert.equal(res.body.classes.length, 5);
    checkRanking(res.body.classes);
  });

  it('topk=1000 lists every class once, probabilities summing to 1, and begins with the top 5', async () => {
    const all: Entry[] = (await classify('?topk=1000')).body.classes;
    assert.equal(all.length, 1000);
    assert.deepEqual(all.map((e) => e.index).sort((a, b) => a - b), [...IMAGENET_CLASSES.keys()]);
    const sum = all.reduce((s, e) => s + e.probability, 0);
    assert.ok(Math.abs(sum - 1) < 1e-4, `probabilities sum to ${sum}`);
    checkRanking(all);
    const top5: Entry[] = (await classify('?topk=5')).body.classes;
    assert.deepEqual(top5, all.slice(0, 5));
  });

  it('ranks by the model’s logits: indices, labels and softmax probabilities exact', async () => {
    // Distinct logits in a scrambled order, so ranking and index bookkeeping both matter.
    const logits = Float32Array.from({ length: 1000 }, (_, i) => ((i * 389) % 1000) / 100);
    const trained = { ...fixedLogitsClassifier(logits), weights: { trained: true, source: 'test-fixture', sha256: null } };
    const fixed = await buildApp(testConfig(), { models: [trained] });
    await fixed.ready();
    try {
      const res = await request(fixed.server).post('/v1/classify?topk=4').set('content-type', 'image/jpeg').send(jpeg);
      assert.equal(res.status, 200);
      assert.equal(res.headers['x-model'], 'fixed-logits');
      assert.equal(res.headers['x-model-trained'], 'true');
      assert.deepEqual([res.body.model, res.body.trained], ['fixed-logits', true]);
      const max = Math.max(...logits);
      const denominator = logits.reduce((s, l) => s + Math.exp(l - max), 0);
      const expected = [...logits.keys()].sort((a, b) => logits[b] - logits[a]).slice(0, 4);
      assert.deepEqual(expected, [491, 982, 473, 964]); // logits 9.99, 9.98, 9.97, 9.96
      assert.deepEqual(res.body.classes.map((e: Entry) => e.index), expected);
      assert.deepEqual(res.body.classes.map((e: Entry) => e.label), expected.map((i) => IMAGENET_CLASSES[i]));
      res.body.classes.forEach((e: Entry, k: number) => {
        const probability = Math.exp(logits[expected[k]] - max) / denominator;
        assert.ok(Math.abs(e.probability - probability) < 1e-6, `${e.probability} vs ${probability}`);
      });
    } finally {
      await fixed.close();
    }
  });

  it('takes the same body forms as /v1/segment', async () => {
    const reference: Entry[] = (await classify('?topk=3')).body;
    const raw = await classify('?topk=3', jpeg, 'application/octet-stream');
    assert.deepEqual(raw.body, reference);
    const form = await request(app.server)
      .post('/v1/classify?topk=3')
      .attach('image', jpeg, { filename: 'x.jpg', contentType: 'image/jpeg' });
    assert.equal(form.status, 200);
    assert.deepEqual(form.body, reference);
  });

  const badQueries: [string, number, RegExp][] = [
    ['?topk=0', 400, /querystring\/topk must be >= 1/],
    ['?topk=1001', 400, /querystring\/topk must be <= 1000/],
    ['?topk=five', 400, /querystring\/topk must be integer/],
    ['?topk=2.5', 400, /querystring\/topk must be integer/],
    ['?model=lraspp_mobilenet_v3_large', 400, /querystring\/model "lraspp_mobilenet_v3_large" is a segmentation model, not a classification one \(classification models: mobilenet_v3_large\)/],
    ['?model=nope', 404, /unknown model "nope" \(served: lraspp_mobilenet_v3_large, mobilenet_v3_large\)/],
    ['?format=json', 400, /querystring\/format is not a parameter of this route/],
  ];
  for (const [query, status, detail] of badQueries) {
    it(`${status} for ${query}`, async () => {
      const res = await classify(query);
      assert.equal(res.status, status);
      assert.match(res.headers['content-type'], /^application\/problem\+json/);
      assert.match(res.body.detail, detail);
    });
  }

  it('415 / 422 for non-images, empty and truncated bodies', async () => {
    const cases: [Buffer, string, number][] = [
      [Buffer.from('plain words'), 'image/jpeg', 415],
      [Buffer.from('{}'), 'application/json', 415],
      [Buffer.alloc(0), 'image/jpeg', 422],
      [jpeg.subarray(0, 600), 'image/jpeg', 422],
    ];
    for (const [body, type, status] of cases) {
      const res = await classify('', body, type);
      assert.equal(res.status, status, `${type} ${body.length} bytes`);
      assert.equal(res.body.status, status);
    }
  });

  it('400 when no classifier is served (CITYSEG_CLASSIFIER_ARCH=none)', async () => {
    const segmentOnly = await appWithDefaultModels(testConfig({ CITYSEG_CLASSIFIER_ARCH: 'none' }));
    try {
      const res = await request(segmentOnly.server).post('/v1/classify').set('content-type', 'image/jpeg').send(jpeg);
      assert.equal(res.status, 400);
      assert.equal(res.body.detail, 'no classification model is loaded');
    } finally {
      await segmentOnly.close();
    }
  });
});
