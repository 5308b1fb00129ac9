import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import request from 'supertest';
import { IMAGENET_CLASSES } from '../model/imagenet-classes.js';
import { CITYSCAPES_LABELS } from '../segmentation/labels/index.js';
import { buildApp } from '../server/app.js';
import { appWithDefaultModels, encodeImage, testConfig } from './server-helpers.js';

describe('GET /v1/models', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await appWithDefaultModels(testConfig());
  });
  after(() => app.close());

  it('lists the segmentation model, then the classifier: facts and a link, no class lists', async () => {
    const res = await request(app.server).get('/v1/models');
    assert.equal(res.status, 200);
    const [segmentation, classifier] = res.body.models;
    assert.equal(res.body.models.length, 2);

    const backend = segmentation.backend;
    assert.ok(['onnxruntime-cpu', 'wasm', 'cpu', 'tensorflow'].includes(backend), backend);
    assert.deepEqual({ ...segmentation, backend: undefined }, {
      name: 'lraspp_mobilenet_v3_large',
      id: 'lraspp_mobilenet_v3_large',
      ready: true,
      trained: false,
      default: true,
      task: 'segmentation',
      arch: 'lraspp_mobilenet_v3_large',
      numClasses: 19,
      labels: 'cityscapes',
      // torchvision: 3,221,538 with 21 classes; 2 x (40 + 1 + 128 + 1) fewer with 19
      parameterCount: 3_221_198,
      weights: { trained: false, source: 'seeded-init:20190506', sha256: null, origin: 'none' },
      engine: backend === 'onnxruntime-cpu' ? 'onnx' : 'tfjs',
      backend: undefined,
      inferenceSize: 64,
      href: '/v1/models/lraspp_mobilenet_v3_large',
    });

    assert.equal(classifier.id, 'mobilenet_v3_large');
    assert.equal(classifier.task, 'classification');
    assert.equal(classifier.numClasses, 1000);
    assert.equal(classifier.labels, 'imagenet');
    assert.equal(classifier.parameterCount, 5_483_032); // torchvision mobilenet_v3_large
    assert.equal(classifier.inferenceSize, 224);
    assert.equal(classifier.weights.trained, false);
    assert.equal(classifier.classes, undefined);
    assert.equal(classifier.href, '/v1/models/mobilenet_v3_large');
    // The list stays small: the 1000 ImageNet names are behind the link.
    assert.ok(JSON.stringify(res.body).length < 2000, `${JSON.stringify(res.body).length} bytes`);
  });

  it('/v1/models/{name}: the same facts plus the classes (ids and colours for segmentation)', async () => {
    const list = (await request(app.server).get('/v1/models')).body.models;
    const segmentation = await request(app.server).get('/v1/models/lraspp_mobilenet_v3_large');
    assert.equal(segmentation.status, 200);
    const trainLabels = CITYSCAPES_LABELS.filter((l) => l.trainId >= 0 && l.trainId < 255).sort((a, b) => a.trainId - b.trainId);
    const { preprocessing, workers, threads, maxBatch, memory, inference, ...card } = segmentation.body;
    assert.deepEqual(card, {
      ...list[0],
      classes: trainLabels.map((l) => ({ index: l.trainId, id: l.id, name: l.name, color: [...l.color] })),
    });
    assert.deepEqual(preprocessing, { resize: 'long side (never enlarged)', longSide: 64, kernel: 'linear', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
    assert.deepEqual({ workers, threads, maxBatch }, { workers: 1, threads: 0, maxBatch: 1 });
    assert.equal(memory.weightsBytes, 3_221_198 * 4);
    assert.ok(memory.forwardBytes > 0);
    assert.deepEqual(inference, { mode: 'whole', crop: { height: 512, width: 1024 }, stride: { height: 341, width: 683 }, scales: [1], flip: false });
    const classifier = await request(app.server).get('/v1/models/mobilenet_v3_large');
    assert.equal(classifier.status, 200);
    const { preprocessing: classifierPre, workers: _w, threads: _t, maxBatch: _b, memory: _m, inference: _i, ...classifierCard } = classifier.body;
    assert.deepEqual(classifierCard, { ...list[1], classes: IMAGENET_CLASSES.map((name, index) => ({ index, name })) });
    assert.deepEqual(classifierPre, { resize: 'short side, then centre crop', shortSide: 256, crop: 224, kernel: 'pil-bilinear', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
  });

  it('/v1/models/{name} of an unknown model: 404 problem+json naming the loaded ones', async () => {
    const res = await request(app.server).get('/v1/models/resnet50');
    assert.equal(res.status, 404);
    assert.match(res.headers['content-type'] ?? '', /^application\/problem\+json/);
    assert.deepEqual(JSON.parse(res.text), {
      type: 'urn:cityseg:problem:not-found',
      title: 'Not found',
      status: 404,
      detail: 'unknown model "resnet50" (served: lraspp_mobilenet_v3_large, mobilenet_v3_large)',
    });
  });
});

describe('health and readiness', () => {
  it('/healthz answers at once; /readyz is 503 until the models are served, then 200; 503 again while closing', async () => {
    const config = testConfig({ CITYSEG_CLASSIFIER_ARCH: 'none' });
    const app = await buildApp(config);
    await app.ready();
    try {
      const health = await request(app.server).get('/healthz');
      assert.equal(health.status, 200);
      assert.deepEqual(health.body, { status: 'ok' });

      const notReady = await request(app.server).get('/readyz');
      assert.equal(notReady.status, 503);
      assert.match(notReady.headers['content-type'], /^application\/problem\+json/);
      assert.equal(notReady.headers['retry-after'], '1');
      assert.deepEqual(notReady.body, {
        type: 'urn:cityseg:problem:not-ready',
        title: 'Service not ready',
        status: 503,
        detail: 'models are not loaded yet',
      });

      const early = await request(app.server).post('/v1/segment').set('content-type', 'image/png').send(await encodeImage(40, 30));
      assert.equal(early.status, 503);
      assert.equal(early.body.type, 'urn:cityseg:problem:not-ready');
      assert.equal(early.headers['retry-after'], '5');

      await app.repository.start();
      const ready = await request(app.server).get('/readyz');
      assert.equal(ready.status, 200);
      assert.deepEqual(ready.body, { status: 'ready' });
    } finally {
      await app.close();
    }
    assert.equal(app.readiness.notReadyReason, 'the server is shutting down');
    assert.equal(app.models.list().length, 0, 'engines are disposed on close');
  });
});
