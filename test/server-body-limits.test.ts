import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { buildApp } from '../server/app.js';
import { testConfig } from './server-helpers.js';

/** Writes `head` (and `body`) on a new connection; resolves with everything read until the server closes it. */
async function exchange(port: number, head: string, body?: Buffer): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  socket.on('error', () => undefined);
  socket.write(head);
  if (body) socket.write(body);
  await once(socket, 'close');
  return text;
}

describe('body time limits on every route, not only the image routes', () => {
  it('a stalled body is 408 at the idle timeout on any route; an unread body closes its connection after the answer', async () => {
    const app = await buildApp(testConfig({ CITYSEG_BODY_IDLE_TIMEOUT_MS: '300' }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as AddressInfo).port;
    try {
      // A JSON body that stops: an unknown path and a GET-only route both read it (to answer 404/405 after), and
      // without the guard both waited for Node's own request timeout (35 s by default).
      for (const path of ['/v1/nope', '/healthz']) {
        const started = performance.now();
        const text = await exchange(port, `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"a":`);
        const elapsed = performance.now() - started;
        assert.match(text, /^HTTP\/1\.1 408 /, path);
        assert.match(text, /no request body bytes arrived for 300 ms/, path);
        assert.match(text, /connection: close/i, path);
        assert.ok(elapsed < 5000, `${path} answered after ${elapsed} ms`);
      }
      // A body no route reads: answered at once, then the rest is read and dropped (the client sees its 404, not
      // a reset) and the connection closes instead of Node reading on for a next request.
      const size = 4 * 1024 ** 2;
      const text = await exchange(port, `POST /v1/models HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${size}\r\n\r\n`, Buffer.alloc(size, 7));
      assert.match(text, /^HTTP\/1\.1 404 /);
      assert.match(text, /connection: close/i);
    } finally {
      await app.close();
    }
  });
});
