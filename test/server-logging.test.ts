import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import request from 'supertest';
import { appWithDefaultModels, encodeImage, testConfig } from './server-helpers.js';

describe('request logging', () => {
  let app: FastifyInstance;
  const lines: Record<string, unknown>[] = [];
  const rawLines: string[] = [];

  before(async () => {
    const stream = new PassThrough();
    let pending = '';
    stream.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const complete = pending.split('\n');
      pending = complete.pop() ?? '';
      for (const line of complete) {
        rawLines.push(line);
        lines.push(JSON.parse(line));
      }
    });
    app = await appWithDefaultModels(testConfig({ LOG_LEVEL: 'info' }), { logStream: stream });
  });
  after(() => app.close());

  const linesFor = (id: string) => lines.filter((line) => line.reqId === id);

  it('logs at start-up which models are untrained, with engine and backend', () => {
    const startup = lines.filter((line) => line.trained === false);
    assert.deepEqual(startup.map((line) => line.model), ['lraspp_mobilenet_v3_large', 'mobilenet_v3_large']);
    for (const line of startup) {
      assert.equal(line.level, 40, 'an untrained model is a warning');
      assert.match(String(line.msg), /UNTRAINED \(seeded-init:20190506\): no trained weights were given \(weights none, or none in its models-file entry\); its predictions are meaningless: give trained weights with --(classifier-)?weights FILE\.pth/);
      assert.equal(line.weightsOrigin, 'none');
      assert.equal(typeof line.engine, 'string');
      assert.equal(typeof line.backend, 'string');
    }
  });

  it('writes exactly one line per request: id, route, status, latency, image size, model, inference ms', async () => {
    const png = await encodeImage(80, 60, 4);
    const res = await request(app.server)
      .post('/v1/segment?format=json')
      .set('content-type', 'image/png')
      .set('x-request-id', 'log-test-1')
      .send(png);
    assert.equal(res.status, 200);
    await new Promise((resolve) => setImmediate(resolve));
    const [line, ...extra] = linesFor('log-test-1');
    assert.equal(extra.length, 0, 'one line only');
    assert.equal(line.msg, 'request completed');
    assert.equal(line.level, 30);
    assert.equal(line.method, 'POST');
    assert.equal(line.route, '/v1/segment');
    assert.equal(line.status, 200);
    assert.equal(line.model, 'lraspp_mobilenet_v3_large');
    assert.equal(line.imageWidth, 80);
    assert.equal(line.imageHeight, 60);
    assert.equal(line.inferenceMs, Math.round(res.body.timings.inferenceMs * 100) / 100);
    assert.ok(typeof line.latencyMs === 'number' && line.latencyMs >= (line.inferenceMs as number));
  });

  it('logs failures on the same single line with their status, and never the body', async () => {
    const secret = Buffer.from('SECRET-BODY-CONTENT '.repeat(50));
    const res = await request(app.server)
      .post('/v1/segment')
      .set('content-type', 'image/png')
      .set('x-request-id', 'log-test-2')
      .send(secret);
    assert.equal(res.status, 415);
    await new Promise((resolve) => setImmediate(resolve));
    const requestLines = linesFor('log-test-2');
    assert.equal(requestLines.length, 1);
    assert.equal(requestLines[0].status, 415);
    assert.ok(!rawLines.some((line) => line.includes('SECRET-BODY')), 'a body reached the log');
  });
});
