import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../server/app.js';
import { testConfig } from './server-helpers.js';

const PROBLEM_JSON = 'application/problem+json; charset=utf-8';

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function parseRaw(text: string): RawResponse {
  const [head, ...rest] = text.split('\r\n\r\n');
  const [statusLine, ...lines] = head.split('\r\n');
  const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
  return { status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') };
}

async function openSocket(app: FastifyInstance): Promise<Socket> {
  const { port } = app.server.address() as { port: number };
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  return socket;
}

/** Writes raw bytes to the listening app and reads everything it answers until it closes the connection. */
async function rawExchange(app: FastifyInstance, request: string): Promise<RawResponse> {
  const socket = await openSocket(app);
  let text = '';
  socket.setEncoding('latin1').on('data', (chunk: string) => (text += chunk));
  socket.on('error', () => {});
  socket.write(request);
  await once(socket, 'close');
  return parseRaw(text);
}

function assertProblem(response: RawResponse | { statusCode: number; headers: Record<string, unknown>; body: string }, status: number, type: string): void {
  const actual = 'status' in response ? response.status : response.statusCode;
  assert.equal(actual, status);
  assert.equal(response.headers['content-type'], PROBLEM_JSON);
  assert.equal(response.headers['x-content-type-options'], 'nosniff');
  const body = JSON.parse(response.body) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body), ['type', 'title', 'status', 'detail']);
  assert.equal(body.type, `urn:cityseg:problem:${type}`);
  assert.equal(body.status, status);
}

describe('security headers', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await buildApp(testConfig({ CITYSEG_CLASSIFIER_ARCH: 'none' }));
    await app.listen({ port: 0, host: '127.0.0.1' });
  });
  after(() => app.close());

  it('the web page and /docs get a CSP without inline script or style, frame-ancestors none and a Referrer-Policy', async () => {
    for (const url of ['/', '/docs/']) {
      const page = await app.inject({ url });
      assert.equal(page.statusCode, 200, url);
      assert.match(String(page.headers['content-type']), /^text\/html/, url);
      const csp = String(page.headers['content-security-policy']);
      const directives = Object.fromEntries(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values]));
      assert.deepEqual(directives['script-src'], ["'self'"], url);
      // /docs also allows, by hash, the one <style> Swagger UI's logo renders; the page allows none.
      const [self, ...hashes] = directives['style-src'];
      assert.equal(self, "'self'", url);
      assert.equal(hashes.length, url === '/' ? 0 : 1, url);
      for (const hash of hashes) assert.match(hash, /^'sha256-[A-Za-z0-9+/]{43}='$/, url);
      assert.deepEqual(directives['frame-ancestors'], ["'none'"], url);
      assert.deepEqual(directives['object-src'], ["'none'"], url);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, url);
      assert.equal(page.headers['x-frame-options'], 'DENY');
      assert.equal(page.headers['referrer-policy'], 'no-referrer');
      assert.equal(page.headers['x-content-type-options'], 'nosniff');
      assert.equal(page.headers['strict-transport-security'], undefined, 'HSTS belongs to the TLS terminator');
    }
  });

  it('the pages themselves hold no inline script or style, so the CSP leaves them working', async () => {
    for (const url of ['/', '/docs/']) {
      const html = (await app.inject({ url })).body;
      assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, `${url} has an inline <script>`);
      assert.doesNotMatch(html, /<style[\s>]|\sstyle=|\son[a-z]+=/i, `${url} has inline style or an event handler`);
    }
  });

  it('API answers, static files and every error carry nosniff', async () => {
    for (const url of ['/v1/models', '/healthz', '/metrics', '/openapi.json', '/app.js', '/style.css']) {
      const response = await app.inject({ url });
      assert.equal(response.statusCode, 200, url);
      assert.equal(response.headers['x-content-type-options'], 'nosniff', url);
    }
    assertProblem(await app.inject({ url: '/no/such/route' }), 404, 'not-found');
    assertProblem(await app.inject({ method: 'DELETE', url: '/v1/models' }), 404, 'not-found');
    assertProblem(await app.inject({ method: 'POST', url: '/v1/segment?size=1', headers: { 'content-type': 'image/png' }, payload: 'x' }), 400, 'bad-parameter');
    assertProblem(await app.inject({ method: 'POST', url: '/v1/segment', headers: { 'content-type': 'text/plain' }, payload: 'x' }), 415, 'unsupported-media-type');
  });

  it('a URL that cannot be decoded is a 400 problem', async () => {
    const response = await app.inject({ url: '/v1/%zz' });
    assertProblem(response, 400, 'bad-parameter');
    assert.equal(JSON.parse(response.body).detail, 'the URL is not validly percent-encoded');
  });

  it('header fields over Node\'s limit are a 431 problem, written before Fastify sees the request', async () => {
    const response = await rawExchange(app, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assertProblem(response, 431, 'header-fields-too-large');
    assert.equal(response.headers.connection, 'close');
    assert.equal(response.headers['content-length'], String(Buffer.byteLength(response.body)));
  });

  it('a request that is not HTTP is a 400 problem', async () => {
    const response = await rawExchange(app, 'GET /healthz HTTP/1.1\r\nHost x\r\n\r\n');
    assertProblem(response, 400, 'bad-parameter');
    assert.match(JSON.parse(response.body).detail, /^the request is not valid HTTP\/1\.1 \(HPE_/);
  });

  it('no CORS headers by default, and no preflight route', async () => {
    const response = await app.inject({ url: '/v1/models', headers: { origin: 'https://elsewhere.example' } });
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['access-control-allow-origin'], undefined);
    const preflight = await app.inject({
      method: 'OPTIONS',
      url: '/v1/segment',
      headers: { origin: 'https://elsewhere.example', 'access-control-request-method': 'POST' },
    });
    assertProblem(preflight, 404, 'not-found');
    assert.equal(preflight.headers['access-control-allow-origin'], undefined);
  });
});

describe('CORS allow-list', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await buildApp(testConfig({ CITYSEG_CORS_ORIGINS: 'https://app.example.org,http://localhost:3000' }));
    await app.ready();
  });
  after(() => app.close());

  it('answers an allowed origin with exactly that origin, and others with nothing', async () => {
    const allowed = await app.inject({ url: '/v1/models', headers: { origin: 'http://localhost:3000' } });
    assert.equal(allowed.headers['access-control-allow-origin'], 'http://localhost:3000');
    assert.match(String(allowed.headers['access-control-expose-headers']), /X-Model/);
    assert.equal(allowed.headers['access-control-allow-credentials'], undefined);
    const other = await app.inject({ url: '/v1/models', headers: { origin: 'https://evil.example' } });
    assert.equal(other.headers['access-control-allow-origin'], undefined);
  });

  it('answers the preflight of an allowed origin for POST with Authorization', async () => {
    const preflight = await app.inject({
      method: 'OPTIONS',
      url: '/v1/segment',
      headers: { origin: 'https://app.example.org', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    assert.equal(preflight.statusCode, 204);
    assert.equal(preflight.headers['access-control-allow-origin'], 'https://app.example.org');
    assert.equal(preflight.headers['access-control-allow-methods'], 'GET, HEAD, POST');
    assert.match(String(preflight.headers['access-control-allow-headers']), /Authorization/);
  });
});

describe('while shutting down', () => {
  it('a request on a connection that was already open gets a 503 problem with Retry-After', async () => {
    const app = await buildApp(testConfig());
    await app.listen({ port: 0, host: '127.0.0.1' });
    const socket = await openSocket(app);
    let text = '';
    socket.setEncoding('latin1').on('data', (chunk: string) => (text += chunk));
    // Half a request keeps the connection active, so closing the server does not drop it as idle.
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    await sleep(100);
    const closed = app.close();
    await sleep(100);
    socket.write('\r\n');
    await once(socket, 'close');
    await closed;
    const response = parseRaw(text);
    assertProblem(response, 503, 'shutting-down');
    assert.equal(response.headers['retry-after'], '1');
    assert.equal(response.headers.connection, 'close');
  });
});
