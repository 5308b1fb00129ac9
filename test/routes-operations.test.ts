import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import request from 'supertest';
import { findPublicDir } from '../routes/web.js';
import { appWithDefaultModels, encodeImage, testConfig } from './server-helpers.js';

/** The value of one sample in Prometheus text, e.g. `name{a="1",b="2"}`; undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([\w:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3]);
  }
  return undefined;
}

describe('operations endpoints', () => {
  let app: FastifyInstance;
  let png: Buffer;
  before(async () => {
    app = await appWithDefaultModels(testConfig());
    png = await encodeImage(64, 48, 9);
  });
  after(() => app.close());

  const metricsText = async () => {
    const res = await request(app.server).get('/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/);
    return res.text;
  };

  it('/metrics counts requests by route and status, and inference latency per model', async () => {
    const before = await metricsText();
    const ok = { method: 'POST', route: '/v1/segment', status: '200' };
    const bad = { method: 'POST', route: '/v1/segment', status: '400' };
    const inference = { model: 'lraspp_mobilenet_v3_large', task: 'segmentation' };
    const count = (text: string, name: string, labels: Record<string, string>) => sample(text, name, labels) ?? 0;

    for (let i = 0; i < 3; i++) {
      assert.equal((await request(app.server).post('/v1/segment').set('content-type', 'image/png').send(png)).status, 200);
    }
    assert.equal((await request(app.server).post('/v1/segment?size=1').set('content-type', 'image/png').send(png)).status, 400);
    await request(app.server).get('/no/such/page');

    const after = await metricsText();
    assert.equal(count(after, 'cityseg_http_requests_total', ok) - count(before, 'cityseg_http_requests_total', ok), 3);
    assert.equal(count(after, 'cityseg_http_requests_total', bad) - count(before, 'cityseg_http_requests_total', bad), 1);
    assert.equal(count(after, 'cityseg_http_requests_total', { route: 'unmatched', status: '404' }), 1);
    const latencyCount = 'cityseg_http_request_duration_seconds_count';
    assert.equal(
      count(after, latencyCount, { route: '/v1/segment' }) - count(before, latencyCount, { route: '/v1/segment' }),
      4,
    );
    const inferenceCount = 'cityseg_inference_duration_seconds_count';
    assert.equal(count(after, inferenceCount, inference) - count(before, inferenceCount, inference), 3);
    assert.ok(count(after, 'cityseg_inference_duration_seconds_sum', inference) > 0);
    assert.equal(sample(after, 'cityseg_inference_queue_depth'), 0);
    assert.equal(sample(after, 'cityseg_inference_running'), 0);
    assert.equal(sample(after, 'cityseg_http_requests_in_flight'), 1, 'only the /metrics request itself');
  });

  it('/metrics publishes one info sample per model, marking untrained weights, plus process metrics', async () => {
    const text = await metricsText();
    const backend = app.models.list()[0].model.engine.backend;
    const engine = app.models.list()[0].model.engineName;
    assert.equal(
      sample(text, 'cityseg_model_info', {
        id: 'lraspp_mobilenet_v3_large',
        task: 'segmentation',
        arch: 'lraspp_mobilenet_v3_large',
        engine,
        backend,
        trained: 'false',
      }),
      1,
    );
    assert.equal(sample(text, 'cityseg_model_info', { id: 'mobilenet_v3_large', task: 'classification', trained: 'false' }), 1);
    assert.ok((sample(text, 'cityseg_process_resident_memory_bytes') ?? 0) > 10e6);
    assert.ok(sample(text, 'cityseg_nodejs_eventloop_lag_seconds') !== undefined);
  });

  it('/openapi.json is an OpenAPI 3 document of every API route with its errors', async () => {
    const res = await request(app.server).get('/openapi.json');
    assert.equal(res.status, 200);
    const doc = res.body;
    assert.equal(doc.openapi, '3.0.3');
    assert.deepEqual(Object.keys(doc.paths).sort(), [
      '/healthz', '/metrics', '/readyz', '/v1/classify', '/v1/jobs', '/v1/jobs/{id}', '/v1/jobs/{id}/frames.jsonl', '/v1/jobs/{id}/result',
      '/v1/models', '/v1/models/{name}', '/v1/segment',
      '/v2', '/v2/health/live', '/v2/health/ready', '/v2/models/{name}', '/v2/models/{name}/infer', '/v2/models/{name}/ready',
    ]);
    const segment = doc.paths['/v1/segment'].post;
    assert.deepEqual(Object.keys(segment.responses).sort(), ['200', '400', '404', '413', '415', '422', '503']);
    // Concrete types first: Swagger UI's "Try it out" sends the first one (a literal image/* is not a type).
    assert.deepEqual(Object.keys(segment.requestBody.content), [
      'image/jpeg', 'image/png', 'image/webp', 'image/bmp', 'image/tiff', 'image/gif', 'image/avif',
      'application/octet-stream', 'multipart/form-data',
    ]);
    assert.deepEqual(
      segment.parameters.filter((p: { in: string }) => p.in === 'query').map((p: { name: string }) => p.name),
      ['format', 'size', 'alpha', 'overlayFormat', 'rle', 'model', 'mode', 'crop', 'stride', 'scales', 'flip'],
    );
    assert.deepEqual(
      segment.responses['413'].content['application/problem+json'].schema,
      { $ref: '#/components/schemas/Problem' },
    );
    assert.deepEqual(Object.keys(doc.components.schemas).sort(), ['Model', 'ModelSummary', 'Problem', 'Segmentation', 'VideoJob']);
    assert.deepEqual(doc.paths['/v1/models/{name}'].get.responses['404'].content['application/problem+json'].schema, { $ref: '#/components/schemas/Problem' });
  });

  it('/docs serves Swagger UI', async () => {
    const res = await request(app.server).get('/docs/').redirects(2);
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^text\/html/);
    assert.match(res.text, /swagger/i);
  });

  it('/ serves public/index.html', async () => {
    const dir = findPublicDir();
    assert.ok(dir, 'public/index.html exists in this repository');
    const res = await request(app.server).get('/');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^text\/html/);
    assert.equal(res.text, await readFile(`${dir}index.html`, 'utf8'));
  });

  it('unknown routes and methods answer problem+json 404', async () => {
    const res = await request(app.server).delete('/v1/segment');
    assert.equal(res.status, 404);
    assert.deepEqual(res.body, {
      type: 'urn:cityseg:problem:not-found',
      title: 'Not found',
      status: 404,
      detail: 'no route DELETE /v1/segment',
    });
  });

  it('echoes a safe X-Request-Id, replaces an unsafe one, and mints one when absent', async () => {
    const echoed = await request(app.server).get('/healthz').set('x-request-id', 'client-id_1.2:3');
    assert.equal(echoed.headers['x-request-id'], 'client-id_1.2:3');
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    const unsafe = await request(app.server).get('/healthz').set('x-request-id', 'two words');
    assert.match(unsafe.headers['x-request-id'], uuid);
    const minted = await request(app.server).get('/healthz');
    assert.match(minted.headers['x-request-id'], uuid);
    const problem = await request(app.server).get('/nothing').set('x-request-id', 'err-7');
    assert.equal(problem.headers['x-request-id'], 'err-7');
  });
});
