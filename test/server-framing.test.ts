/**
 * Answers Node would give by itself (empty bodies, silent closes) and authentication guessing, against the compiled
 * server over raw sockets: no Host, `Expect: bogus`, CONNECT and `Transfer-Encoding: identity, chunked` get
 * problem+json answers; `GET /v2` needs the API key; wrong admin tokens and API keys are limited per address and
 * logged without what was presented.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { rawExchange, readyServer, type Server } from './server-process.js';

const API_KEY = 'framing-test-key';
const ADMIN_TOKEN = 'framing-admin-token';
const WRONG = 'not-the-key-4b1d';

interface ParsedAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Writes `request` on a new connection and parses what comes back before the close (every answer here closes). */
async function raw(base: string, request: string): Promise<ParsedAnswer> {
  const { text } = await rawExchange(base, (socket) => void socket.write(request), 10_000);
  const [head, ...rest] = text.split('\r\n\r\n');
  const [statusLine, ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') };
}

function assertProblem(answer: ParsedAnswer, status: number, detail: RegExp): void {
  assert.equal(answer.status, status, `${answer.status} ${answer.body}`);
  assert.match(answer.headers['content-type'] ?? '', /^application\/problem\+json/);
  assert.equal(answer.headers['x-content-type-options'], 'nosniff');
  const problem = JSON.parse(answer.body) as { status: number; detail: string };
  assert.equal(problem.status, status);
  assert.match(problem.detail, detail);
}

describe('framing answers and authentication guessing (compiled build)', () => {
  let server: Server;
  let base: string;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cityseg-framing-'));
    const keys = path.join(dir, 'keys');
    await writeFile(keys, `${API_KEY}\n`);
    ({ server, base } = await readyServer({ CITYSEG_API_KEYS: keys, CITYSEG_ADMIN_TOKEN: ADMIN_TOKEN }));
  });

  after(async () => {
    server.child.kill('SIGTERM');
    assert.equal(await server.exit, 0);
    await rm(dir, { recursive: true, force: true });
  });

  it('an HTTP/1.1 request without Host: 400 problem+json with the security headers', async () => {
    const answer = await raw(base, 'GET /healthz HTTP/1.1\r\n\r\n');
    assertProblem(answer, 400, /Host header/);
    assert.ok(answer.headers['content-security-policy']);
    // HTTP/1.0 has no Host requirement.
    assert.equal((await raw(base, 'GET /healthz HTTP/1.0\r\n\r\n')).status, 200);
  });

  it('Expect: bogus → 417 problem+json and the connection closes', async () => {
    const answer = await raw(base, `POST /v1/segment HTTP/1.1\r\nHost: x\r\nExpect: bogus\r\nContent-Length: 5\r\n\r\n`);
    assertProblem(answer, 417, /expectation "bogus" is not supported/);
    assert.equal(answer.headers.connection, 'close');
  });

  it('CONNECT → 405 problem+json, not a silent close', async () => {
    const answer = await raw(base, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    assertProblem(answer, 405, /not a proxy/);
  });

  it('Transfer-Encoding other than exactly chunked → 400 problem+json', async () => {
    const answer = await raw(
      base,
      `POST /v1/segment HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${API_KEY}\r\nContent-Type: image/png\r\nTransfer-Encoding: identity, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    );
    assertProblem(answer, 400, /Transfer-Encoding "identity, chunked" is not supported/);
  });

  it('GET /v2 needs the API key like the rest of /v2', async () => {
    const refused = await fetch(`${base}/v2`);
    assert.equal(refused.status, 401);
    assert.equal((await refused.json()).error, 'this route needs an API key: send Authorization: Bearer <key>');
    const served = await fetch(`${base}/v2`, { headers: { authorization: `Bearer ${API_KEY}` } });
    assert.equal(served.status, 200);
    assert.equal((await served.json()).name, 'cityseg');
  });

  it('wrong admin tokens and API keys: 10 failures per address, then 429 with Retry-After; each failure logged without the secret', async () => {
    const reload = (token: string) => fetch(`${base}/v1/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    // A request without credentials is not a guess: a plain 401, not counted.
    for (let i = 0; i < 3; i += 1) assert.equal((await fetch(`${base}/v1/models`)).status, 401);
    for (let i = 0; i < 6; i += 1) assert.equal((await reload(WRONG)).status, 401);
    for (let i = 0; i < 4; i += 1) assert.equal((await fetch(`${base}/v1/models`, { headers: { authorization: `Bearer ${WRONG}` } })).status, 401);
    const limited = await reload(WRONG);
    assert.equal(limited.status, 429);
    const retryAfter = Number(limited.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    assert.match((await limited.json()).detail, /more than 10 failed authentications from this address/);
    // The right secret from the same address waits too, on both realms; unauthenticated routes still answer.
    assert.equal((await reload(ADMIN_TOKEN)).status, 429);
    assert.equal((await fetch(`${base}/v1/models`, { headers: { authorization: `Bearer ${API_KEY}` } })).status, 429);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);

    const failures = server.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('failed authentication'));
    assert.equal(failures.length, 10);
    assert.deepEqual(new Set(failures.map((l) => l.realm)), new Set(['admin-token', 'api-key']));
    for (const line of failures) assert.equal(line.address, '127.0.0.1');
    const everything = JSON.stringify(server.logs);
    assert.ok(!everything.includes(WRONG) && !everything.includes(ADMIN_TOKEN) && !everything.includes(API_KEY), 'a secret reached the log');
  });
});
