/**
 * The per-client share of image requests in flight (CITYSEG_CLIENT_IN_FLIGHT_LIMIT) against the compiled server: one
 * address holding header-only connections, some with `Expect: 100-continue`, cannot take the places another address
 * needs.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { readyServer } from './server-process.js';
import { encodeImage } from './server-helpers.js';

/** A connection from `localAddress` that sends the headers of a 20 MiB upload and nothing more; collects the answer. */
async function announcer(base: string, localAddress: string, expectContinue: boolean): Promise<{ socket: net.Socket; received: () => string }> {
  const { hostname, port } = new URL(base);
  const socket = net.connect({ host: hostname, port: Number(port), localAddress });
  let text = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (text += chunk));
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  socket.write(`POST /v1/segment HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 20971520\r\n${expectContinue ? 'Expect: 100-continue\r\n' : ''}\r\n`);
  return { socket, received: () => text };
}

/** Posts `body` from `localAddress`; resolves with the status and body. */
function post(base: string, localAddress: string, body: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${base}/v1/segment?format=labelIds`, { method: 'POST', localAddress, agent: false, headers: { 'content-type': 'image/png' } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode!, body: Buffer.concat(chunks).toString('latin1') }));
    });
    request.on('error', reject);
    request.end(body);
  });
}

describe('per-client share of image requests in flight (compiled build)', () => {
  it('one address holding header-only uploads gets 429 past its share; another address still gets 200', async (t) => {
    if (process.platform !== 'linux') {
      t.skip('needs a second loopback address (127.0.0.2), which Linux routes without set-up');
      return;
    }
    // 10 places in all (8 waiting + 2 running); one client may hold 4 of them.
    const { server, base } = await readyServer({ CITYSEG_QUEUE_LIMIT: '8', CITYSEG_CLIENT_IN_FLIGHT_LIMIT: '4' });
    const holders: Awaited<ReturnType<typeof announcer>>[] = [];
    try {
      for (let i = 0; i < 16; i++) holders.push(await announcer(base, '127.0.0.1', i % 2 === 1));
      // Every connection past the share is answered at once and closed; the first four stay open, unanswered.
      const refused = holders.slice(4);
      await Promise.all(refused.map(({ socket }) => (socket.closed ? undefined : once(socket, 'close'))));
      for (const { received } of refused) {
        const text = received();
        // Node answers `Expect: 100-continue` itself before the request reaches the application.
        assert.match(text, /^(HTTP\/1\.1 100 Continue\r\n\r\n)?HTTP\/1\.1 429 /, text.slice(0, 120));
        assert.match(text, /\r\ncontent-type: application\/problem\+json/i);
        assert.match(text, /\r\nretry-after: 1\r\n/i);
        assert.match(text, /CITYSEG_CLIENT_IN_FLIGHT_LIMIT/);
      }
      for (const { socket, received } of holders.slice(0, 4)) {
        assert.equal(socket.closed, false);
        assert.doesNotMatch(received(), /^HTTP\/1\.1 [2-5]\d\d /);
      }

      const image = await encodeImage(320, 240, 3);
      const answer = await post(base, '127.0.0.2', image);
      assert.equal(answer.status, 200, answer.body.slice(0, 200));
    } finally {
      for (const { socket } of holders) socket.destroy();
      server.child.kill('SIGKILL');
    }
  });
});
