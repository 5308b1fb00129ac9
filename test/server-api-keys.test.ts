import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { apiKeyAuth } from '../server/api-key-auth.js';
import { buildApp } from '../server/app.js';
import { ApiKeyFileError, ApiKeyVerifier, apiKeyVerifier, parseApiKeyFile } from '../server/api-keys.js';
import { ConfigError } from '../server/config.js';
import { cliEnv, runCli, SERVER_MAIN, tempDir } from './cli-helpers.js';
import { testConfig } from './server-helpers.js';

const PLAIN_KEY = 'plain-key-4f9c1e7a2b';
const HASHED_KEY = 'hashed-key-8d2e6b0c13';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('API keys file', () => {
  it('reads keys and sha256:<hex> lines, skipping blanks and comments, and stores digests only', () => {
    const keys = parseApiKeyFile('k', `# ops team\n${PLAIN_KEY}\r\n\n  sha256:${sha256(HASHED_KEY).toUpperCase()}  \n${PLAIN_KEY}\n`);
    assert.deepEqual(keys, { file: 'k', sha256: [sha256(PLAIN_KEY), sha256(HASHED_KEY)] });
  });

  it('refuses a file without keys, a short digest and a key that cannot be a Bearer token, naming the line only', () => {
    assert.throws(() => parseApiKeyFile('k', '# nothing\n\n'), { name: 'ApiKeyFileError', message: "API keys file 'k': holds no keys (one per line: the key, or sha256:<hex> of it)" });
    assert.throws(() => parseApiKeyFile('k', `${PLAIN_KEY}\nsha256:abc123\n`), { message: "API keys file 'k': line 2: sha256: must be followed by 64 hex digits" });
    const error = (() => {
      try {
        parseApiKeyFile('k', 'has a space secret-word');
      } catch (caught) {
        return caught as ApiKeyFileError;
      }
      return undefined;
    })();
    assert.ok(error instanceof ApiKeyFileError);
    assert.match(error.message, /^API keys file 'k': line 1: a key may hold only/);
    assert.doesNotMatch(error.message, /secret-word/);
  });

  it('verifies Bearer credentials against every digest and returns a key id that is not the key', () => {
    const verifier = new ApiKeyVerifier(parseApiKeyFile('k', `${PLAIN_KEY}\nsha256:${sha256(HASHED_KEY)}`));
    assert.equal(verifier.verify(`Bearer ${PLAIN_KEY}`), `key:${sha256(PLAIN_KEY).slice(0, 12)}`);
    assert.equal(verifier.verify(`bearer   ${HASHED_KEY}`), `key:${sha256(HASHED_KEY).slice(0, 12)}`);
    for (const header of [undefined, '', PLAIN_KEY, `Basic ${PLAIN_KEY}`, `Bearer ${PLAIN_KEY}x`, `Bearer sha256:${sha256(HASHED_KEY)}`, `Bearer ${PLAIN_KEY} extra`]) {
      assert.equal(verifier.verify(header), null, `accepted ${header}`);
    }
  });

  it('hashes the key of a request once however many plugins ask (rate-limit bucket and key check share one verifier)', () => {
    const keys = parseApiKeyFile('k', PLAIN_KEY);
    const verifier = apiKeyVerifier(keys);
    assert.equal(apiKeyVerifier(keys), verifier);
    let hashed = 0;
    const verify = verifier.verify.bind(verifier);
    verifier.verify = (header) => {
      hashed += 1;
      return verify(header);
    };
    const request = { headers: { authorization: `Bearer ${PLAIN_KEY}` } };
    assert.equal(verifier.verifyRequest(request), `key:${sha256(PLAIN_KEY).slice(0, 12)}`);
    assert.equal(verifier.verifyRequest(request), `key:${sha256(PLAIN_KEY).slice(0, 12)}`);
    assert.equal(hashed, 1);
    assert.equal(verifier.verifyRequest({ headers: {} }), null);
    assert.equal(hashed, 2);
  });
});

describe('API key authentication', () => {
  let dir: { dir: string; cleanup: () => Promise<void> };
  let keysFile: string;
  let app: FastifyInstance;
  const logLines: string[] = [];

  before(async () => {
    dir = await tempDir('keys');
    keysFile = path.join(dir.dir, 'api-keys');
    await writeFile(keysFile, `${PLAIN_KEY}\nsha256:${sha256(HASHED_KEY)}\n`);
    const logStream = new PassThrough();
    logStream.on('data', (chunk: Buffer) => logLines.push(...chunk.toString().split('\n').filter(Boolean)));
    app = await buildApp(testConfig({ CITYSEG_API_KEYS: keysFile, LOG_LEVEL: 'debug', CITYSEG_CLASSIFIER_ARCH: 'none' }), { logStream });
    await app.ready();
  });
  after(async () => {
    await app.close();
    await dir.cleanup();
  });

  const get = (url: string, authorization?: string) => app.inject({ url, headers: authorization ? { authorization } : {} });

  it('answers 401 problem+json with WWW-Authenticate on every API route without a valid key', async () => {
    const calls = [
      { method: 'GET' as const, url: '/v1/models' },
      { method: 'POST' as const, url: '/v1/segment' },
      { method: 'POST' as const, url: '/v1/classify?topk=3' },
    ];
    for (const { method, url } of calls) {
      const missing = await app.inject({ method, url, headers: { 'content-type': 'image/png' }, payload: Buffer.from([1, 2, 3]) });
      assert.equal(missing.statusCode, 401, url);
      assert.equal(missing.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.equal(missing.headers['www-authenticate'], 'Bearer realm="cityseg"');
      assert.deepEqual(missing.json(), {
        type: 'urn:cityseg:problem:unauthorized',
        title: 'Unauthorized',
        status: 401,
        detail: 'this route needs an API key: send Authorization: Bearer <key>',
      });
      const wrong = await app.inject({ method, url, headers: { authorization: 'Bearer not-a-key-0000' } });
      assert.equal(wrong.statusCode, 401, url);
      assert.equal(wrong.headers['www-authenticate'], 'Bearer realm="cityseg", error="invalid_token"');
      assert.equal(wrong.json().detail, 'the API key is not valid (Authorization: Bearer <key>)');
    }
  });

  it('lets a listed key through, given as the key itself or as its sha256 in the file', async () => {
    for (const key of [PLAIN_KEY, HASHED_KEY]) {
      const models = await get('/v1/models', `Bearer ${key}`);
      assert.deepEqual([models.statusCode, models.json()], [200, { models: [] }]);
      // Past authentication the route runs: no model is served yet, so 503 not-ready, not 401.
      const segment = await app.inject({ method: 'POST', url: '/v1/segment', headers: { authorization: `Bearer ${key}`, 'content-type': 'image/png' }, payload: Buffer.from([1]) });
      assert.equal(segment.statusCode, 503);
      assert.equal(segment.json().type, 'urn:cityseg:problem:not-ready');
    }
  });

  it('keeps the probes, /metrics, the web page and /docs open', async () => {
    assert.equal((await get('/healthz')).statusCode, 200);
    assert.equal((await get('/readyz')).statusCode, 503, 'not ready (no models), but not 401');
    assert.equal((await get('/metrics')).statusCode, 200);
    assert.equal((await get('/')).statusCode, 200);
    assert.equal((await get('/docs/')).statusCode, 200);
    assert.equal((await get('/openapi.json')).statusCode, 200);
  });

  it('never writes a key, valid or not, into the log', async () => {
    await get('/v1/models', `Bearer ${PLAIN_KEY}`);
    await get('/v1/models', 'Bearer wrong-key-7777');
    await get('/v1/models', `Bearer ${HASHED_KEY}`);
    const log = logLines.join('\n');
    assert.match(log, /"msg":"API keys required on the API routes"/);
    assert.match(log, /"status":401/);
    assert.match(log, /"status":200/);
    for (const secret of [PLAIN_KEY, HASHED_KEY, sha256(PLAIN_KEY), sha256(HASHED_KEY), 'wrong-key-7777', 'Bearer']) {
      assert.ok(!log.includes(secret), `the log holds ${secret}`);
    }
  });

  it('keys /metrics too when CITYSEG_METRICS_AUTH=true', async () => {
    const keyed = await buildApp(testConfig({ CITYSEG_API_KEYS: keysFile, CITYSEG_METRICS_AUTH: 'true' }));
    try {
      assert.equal((await keyed.inject({ url: '/metrics' })).statusCode, 401);
      assert.equal((await keyed.inject({ url: '/metrics', headers: { authorization: `Bearer ${PLAIN_KEY}` } })).statusCode, 200);
      assert.equal((await keyed.inject({ url: '/healthz' })).statusCode, 200);
    } finally {
      await keyed.close();
    }
  });

  it('keys the routes of the scope that registers it, whatever their path', async () => {
    const custom = await buildApp(testConfig({ CITYSEG_API_KEYS: keysFile }));
    // Outside the API scope: open, /v1 path or not.
    custom.get('/v1/public', async () => ({ open: true }));
    await custom.register(async (scope) => {
      await scope.register(apiKeyAuth);
      scope.get('/internal/debug', async () => ({ open: false }));
    });
    try {
      assert.equal((await custom.inject({ url: '/v1/public' })).statusCode, 200);
      assert.equal((await custom.inject({ url: '/internal/debug' })).statusCode, 401);
      assert.equal((await custom.inject({ url: '/internal/debug', headers: { authorization: `Bearer ${PLAIN_KEY}` } })).statusCode, 200);
    } finally {
      await custom.close();
    }
  });

  it('refuses to start when registered before the services it reads (fastify-plugin dependencies, not comments)', async () => {
    const bare = Fastify();
    bare.register(apiKeyAuth);
    await assert.rejects(async () => bare.ready(), { message: /The dependency 'cityseg-config' of plugin 'cityseg-api-key-auth' is not registered/ });
  });

  it('without CITYSEG_API_KEYS every route is open', async () => {
    const open = await buildApp(testConfig());
    try {
      assert.equal((await open.inject({ url: '/v1/models' })).statusCode, 200);
    } finally {
      await open.close();
    }
  });

  it('a bad keys file is a ConfigError naming the file and line, never the key', () => {
    assert.throws(() => testConfig({ CITYSEG_API_KEYS: path.join(dir.dir, 'absent') }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.message, `CITYSEG_API_KEYS: cannot read the API keys file '${path.join(dir.dir, 'absent')}' (ENOENT)`);
      return true;
    });
  });
});

describe('a bad API keys file stops start-up', () => {
  let dir: { dir: string; cleanup: () => Promise<void> };
  before(async () => (dir = await tempDir('badkeys')));
  after(() => dir.cleanup());

  it('node dist/server/main.js and cityseg serve exit 2 with one line', async () => {
    const file = path.join(dir.dir, 'keys');
    await writeFile(file, 'good-key-123456\nsha256:123\n');
    const expected = `invalid setting CITYSEG_API_KEYS: API keys file '${file}': line 2: sha256: must be followed by 64 hex digits\n`;

    const child = spawn(process.execPath, [SERVER_MAIN], { env: cliEnv({ CITYSEG_API_KEYS: file, PORT: '0' }), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const [code] = await once(child, 'exit');
    assert.equal(code, 2);
    assert.equal(stderr, `cityseg-server: ${expected}`);

    const cli = await runCli(['serve', '--port', '0'], { CITYSEG_API_KEYS: file });
    assert.equal(cli.code, 2);
    assert.equal(cli.stderr.trim().split('\n').length, 1, cli.stderr);
    assert.match(cli.stderr, /CITYSEG_API_KEYS: API keys file '.*': line 2: sha256: must be followed by 64 hex digits/);
    assert.doesNotMatch(cli.stderr + stderr, /good-key-123456/);
  });
});
