import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../server/app.js';
import { tempDir } from './cli-helpers.js';
import { testConfig } from './server-helpers.js';

const KEY_A = 'rate-key-a-0123456789';
const KEY_B = 'rate-key-b-0123456789';

describe('rate limits', () => {
  let dir: { dir: string; cleanup: () => Promise<void> };
  let app: FastifyInstance;

  before(async () => {
    dir = await tempDir('rate');
    const keysFile = path.join(dir.dir, 'keys');
    await writeFile(keysFile, `${KEY_A}\n${KEY_B}\n`);
    // A window far longer than the test: the counts cannot reset while it runs.
    app = await buildApp(testConfig({ CITYSEG_RATE_LIMIT_MAX: '2', CITYSEG_RATE_LIMIT_WINDOW_MS: '3600000', CITYSEG_API_KEYS: keysFile }));
    await app.ready();
  });
  after(async () => {
    await app.close();
    await dir.cleanup();
  });

  const models = (authorization?: string, remoteAddress = '192.0.2.1') =>
    app.inject({ url: '/v1/models', remoteAddress, headers: authorization ? { authorization } : {} });

  it('answers 429 problem+json with Retry-After once a key has used its requests', async () => {
    assert.equal((await models(`Bearer ${KEY_A}`)).statusCode, 200);
    const second = await models(`Bearer ${KEY_A}`);
    assert.equal(second.statusCode, 200);
    assert.equal(second.headers['x-ratelimit-remaining'], '0');
    const third = await models(`Bearer ${KEY_A}`);
    assert.equal(third.statusCode, 429);
    assert.equal(third.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.equal(third.headers['retry-after'], '3600');
    assert.deepEqual(third.json(), {
      type: 'urn:cityseg:problem:too-many-requests',
      title: 'Too many requests',
      status: 429,
      detail: 'more than 2 requests in 3600000 ms from this client; retry in 3600 s',
    });
  });

  it('counts per key, so another key (even from the same address) still gets through', async () => {
    assert.equal((await models(`Bearer ${KEY_B}`)).statusCode, 200);
  });

  it('counts requests without a valid key per address: failed guesses are limited too', async () => {
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await models(`Bearer guess-${i}`, '198.51.100.7')).statusCode);
    assert.deepEqual(statuses, [401, 401, 429]);
    assert.equal((await models(`Bearer guess-9`, '198.51.100.8')).statusCode, 401, 'another address has its own count');
  });

  it('never limits the probes, the metrics or the web page', async () => {
    for (let i = 0; i < 4; i++) {
      for (const url of ['/healthz', '/metrics', '/']) {
        assert.equal((await app.inject({ url, remoteAddress: '192.0.2.1' })).statusCode, 200, url);
      }
    }
  });

  it('is off by default', async () => {
    const open = await buildApp(testConfig());
    try {
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await open.inject({ url: '/v1/models' })).statusCode);
      assert.deepEqual(statuses, [200, 200, 200, 200, 200]);
      assert.equal((await open.inject({ url: '/v1/models' })).headers['x-ratelimit-limit'], undefined);
    } finally {
      await open.close();
    }
  });
});
