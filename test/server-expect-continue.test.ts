/**
 * `Expect: 100-continue` against the compiled server: a request the server refuses from its request line and headers
 * gets its refusal alone, never a 100 first; an acceptable one gets 100, then its answer once the body is sent.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rawExchange, readyServer, waitForLog, waitInFlight, type Server } from './server-process.js';
import { encodeImage } from './server-helpers.js';

/** Status lines of a raw exchange, in order (a 100 Continue is one). */
const statusLines = (text: string) => text.match(/HTTP\/1\.1 \d{3} [^\r]*/g) ?? [];

describe('Expect: 100-continue (compiled build)', () => {
  let server: Server;
  let base: string;
  // One image request per client, so a held upload makes the next one the per-client 429.
  before(async () => ({ server, base } = await readyServer({ CITYSEG_CLIENT_IN_FLIGHT_LIMIT: '1', CITYSEG_BODY_IDLE_TIMEOUT_MS: '30000', CITYSEG_SHUTDOWN_TIMEOUT_MS: '3000' })));
  after(() => server.child.kill('SIGKILL'));

  const refusals: [string, string, string, number][] = [
    ['a Content-Length over the body limit', '/v1/segment', 'Content-Type: image/png\r\nContent-Length: 30000000', 413],
    ['an unsupported content type', '/v1/segment', 'Content-Type: text/plain\r\nContent-Length: 300', 415],
    ['an unknown route', '/v1/nope', 'Content-Type: image/png\r\nContent-Length: 300', 404],
    ['a bad query parameter', '/v1/segment?format=bogus', 'Content-Type: image/png\r\nContent-Length: 300', 400],
  ];
  for (const [what, path, headers, status] of refusals) {
    it(`${what}: ${status} problem+json, no 100 Continue first`, async () => {
      const { text } = await rawExchange(base, (socket) => {
        socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\n${headers}\r\nExpect: 100-continue\r\n\r\n`);
      });
      assert.deepEqual(
        statusLines(text).map((line) => Number(line.split(' ')[1])),
        [status],
        text.slice(0, 300),
      );
      assert.match(text, /\r\ncontent-type: application\/problem\+json/i);
      if (status !== 413) {
        // The same body as the normal path, where the body is sent with the headers.
        const normal = await rawExchange(base, (socket) => {
          socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${headers}\r\n\r\n${'x'.repeat(300)}`);
        });
        const detail = (raw: string) => JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)).detail;
        assert.equal(detail(text), detail(normal.text));
      }
    });
  }

  it('an acceptable request gets 100 Continue, then 200 for the body it sends after it', async () => {
    const image = Buffer.from(await encodeImage(64, 48, 3));
    let sent = false;
    const { text } = await rawExchange(base, (socket) => {
      socket.on('data', (chunk: string) => {
        if (sent || !chunk.includes('100 Continue')) return;
        sent = true;
        socket.write(image);
      });
      socket.write(`POST /v1/segment?format=json HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: image/png\r\nContent-Length: ${image.length}\r\nExpect: 100-continue\r\n\r\n`);
    });
    assert.deepEqual(statusLines(text), ['HTTP/1.1 100 Continue', 'HTTP/1.1 200 OK'], text.slice(0, 300));
  });

  // Last: it stops the server.
  it('the per-client 429 and the shutdown 503 come without a 100 Continue first', async () => {
    let trickle: NodeJS.Timeout | undefined;
    const expecting = () =>
      rawExchange(base, (socket) => {
        socket.write('POST /v1/segment HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 300\r\nExpect: 100-continue\r\n\r\n');
      });
    try {
      const held = rawExchange(base, (socket) => {
        socket.write('POST /v1/segment HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 1000000\r\n\r\n');
        trickle = setInterval(() => socket.writable && socket.write(Buffer.alloc(4096, 1)), 200);
      });
      await waitInFlight(base, 1);
      assert.deepEqual(statusLines((await expecting()).text), ['HTTP/1.1 429 Too Many Requests']);
      // The listener closes at the signal: the request comes on a connection kept alive from before.
      const { text } = await rawExchange(base, async (socket) => {
        let seen = '';
        socket.on('data', (chunk: string) => (seen += chunk));
        socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
        while (!seen.includes('}')) await new Promise((resolve) => setTimeout(resolve, 10));
        server.child.kill('SIGTERM');
        await waitForLog(server, 'shutting down: finishing in-flight requests');
        socket.write('POST /v1/segment HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 300\r\nExpect: 100-continue\r\n\r\n');
      });
      assert.deepEqual(statusLines(text), ['HTTP/1.1 200 OK', 'HTTP/1.1 503 Service Unavailable']);
      await held;
    } finally {
      clearInterval(trickle);
    }
  });
});
