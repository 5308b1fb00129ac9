import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { buildApp } from '../server/app.js';
import { drainIdleConnections } from '../server/connection-pressure.js';
import { lingerAfterAnswer } from '../server/lingering-close.js';
import { arrivalOf, gateRequests, isProbe, PIPELINE_DEPTH, PROBE_PATHS, REQUESTS_PER_TURN } from '../server/request-gate.js';
import { TurnPacer } from '../server/turn-pacer.js';
import { testConfig } from './server-helpers.js';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Counts, per turn of the event loop, how often `count` was called; stop() returns the per-turn counts. */
function perTurnCounter(): { count: () => void; stop: () => number[] } {
  const turns: number[] = [];
  let current = 0;
  let running = true;
  const tick = () => {
    if (current > 0) turns.push(current);
    current = 0;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    count: () => void (current += 1),
    stop: () => {
      running = false;
      if (current > 0) turns.push(current);
      return turns;
    },
  };
}

/**
 * Opens `count` connections and waits until the server has accepted every one (libuv accepts one connection per
 * turn): requests written afterwards all become readable in the same poll phase.
 */
async function openAccepted(server: http.Server, port: number, count: number): Promise<net.Socket[]> {
  let accepted = 0;
  const onConnection = () => (accepted += 1);
  server.on('connection', onConnection);
  const sockets = Array.from({ length: count }, () => net.connect(port, '127.0.0.1'));
  while (accepted < count) await new Promise((resolve) => setTimeout(resolve, 5));
  server.off('connection', onConnection);
  return sockets;
}

/** Everything the server sends on `socket` until the connection closes (normally or by a reset). */
async function readUntilClose(socket: net.Socket): Promise<string> {
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk));
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.on('close', resolve));
  return text;
}

async function listen(server: http.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

describe('TurnPacer', () => {
  it('runs at most perTurn callbacks per turn of the event loop, first in first out, later ones in later turns', async () => {
    const pacer = new TurnPacer(16);
    const ran: number[] = [];
    for (let i = 0; i < 40; i++) pacer.defer(() => ran.push(i));
    assert.equal(pacer.waiting, 40);
    assert.equal(ran.length, 0, 'nothing runs before the check phase');
    await nextTurn();
    assert.equal(ran.length, 16);
    // Deferred now: queued behind the 24 still waiting.
    pacer.defer(() => ran.push(40));
    await nextTurn();
    assert.equal(ran.length, 32);
    await nextTurn();
    assert.equal(ran.length, 41);
    assert.deepEqual(ran, Array.from({ length: 41 }, (_, i) => i));
    assert.equal(pacer.waiting, 0);
  });
});

describe('gateRequests', () => {
  it('hands a burst of requests to the application at most REQUESTS_PER_TURN per turn, and answers all', async () => {
    const counter = perTurnCounter();
    const server = http.createServer(
      gateRequests((_request, response) => {
        counter.count();
        response.writeHead(503, { connection: 'close' }).end();
      }),
    );
    const port = await listen(server);
    try {
      // Accepted first, then every request line written in one go: they become readable in the same poll phase.
      const sockets = await openAccepted(server, port, 100);
      const answers = sockets.map(readUntilClose);
      for (const socket of sockets) socket.write('GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n');
      const texts = await Promise.all(answers);
      assert.ok(texts.every((text) => text.startsWith('HTTP/1.1 503')), 'every request is answered');
      const turns = counter.stop();
      assert.equal(turns.reduce((a, b) => a + b, 0), 100);
      assert.ok(Math.max(...turns) <= REQUESTS_PER_TURN, `per turn: ${turns.join(',')}`);
      assert.ok(turns.length >= Math.ceil(100 / REQUESTS_PER_TURN));
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('lets probes through at once while a burst waits, and stamps each request with its arrival', async () => {
    const handled: string[] = [];
    const waits: number[] = [];
    const server = http.createServer(
      gateRequests((request, response) => {
        handled.push(request.url ?? '');
        waits.push(performance.now() - arrivalOf(request));
        // About 1 ms of main-thread work per request, as a refused upload costs.
        const until = performance.now() + 1;
        while (performance.now() < until);
        response.writeHead(200, { connection: 'close' }).end();
      }),
    );
    const port = await listen(server);
    try {
      const [probe, ...sockets] = await openAccepted(server, port, 101);
      for (const socket of [probe, ...sockets]) socket.resume();
      for (const socket of sockets) socket.write('GET /work HTTP/1.1\r\nHost: x\r\n\r\n');
      probe.write(`GET ${PROBE_PATHS.liveness}?t=1 HTTP/1.1\r\nHost: x\r\n\r\n`);
      await Promise.all([...sockets, probe].map((socket) => once(socket, 'close')));
      assert.equal(handled.length, 101);
      const probeAt = handled.indexOf(`${PROBE_PATHS.liveness}?t=1`);
      // The probe's request line arrives just after the burst's, in the same poll phase: without the gate it would
      // be handled after all 100; with it, in that turn, before the burst's first share.
      assert.equal(probeAt, 0, `the probe was handled ${probeAt + 1}th of 101`);
      // The last requests waited for the turns before theirs: the stamp is taken at arrival, not at hand-over.
      assert.ok(Math.max(...waits) > 10, `longest wait ${Math.max(...waits)} ms`);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('counts GET and HEAD of the probe paths, with any query, as probes; nothing else', () => {
    const request = (method: string, url: string) => ({ method, url }) as http.IncomingMessage;
    for (const path of Object.values(PROBE_PATHS)) {
      assert.ok(isProbe(request('GET', path)));
      assert.ok(isProbe(request('HEAD', `${path}?verbose=1`)));
      assert.ok(!isProbe(request('POST', path)));
      assert.ok(!isProbe(request('GET', `${path}/x`)));
    }
    assert.ok(!isProbe(request('GET', '/v1/segment')));
  });
});

describe('lingerAfterAnswer', () => {
  it('discards the rest of a refused body through the pacer, a chunk per turn, and the client reads its answer', async () => {
    const counter = perTurnCounter();
    const pacer = new TurnPacer(1);
    const defer = pacer.defer.bind(pacer);
    pacer.defer = (callback) => {
      counter.count();
      defer(callback);
    };
    let serverSide: Promise<unknown> | undefined;
    const server = http.createServer((request, response) => {
      lingerAfterAnswer(request, 64 * 1024 ** 2, pacer);
      serverSide = once(request.socket, 'close');
      response.writeHead(503, { connection: 'close', 'content-length': '4' }).end('full');
    });
    const port = await listen(server);
    try {
      const size = 8 * 1024 ** 2;
      const socket = net.connect(port, '127.0.0.1');
      await once(socket, 'connect');
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk));
      socket.write(`POST /v1/segment HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`);
      // The whole body is sent: the server must read it (not reset the connection) while the client still writes.
      await new Promise<void>((resolve, reject) => socket.write(Buffer.alloc(size, 1), (error) => (error ? reject(error) : resolve())));
      socket.end();
      // The client's side can close while the last of its bytes still wait in the server's receive buffer.
      await Promise.all([once(socket, 'close'), serverSide]);
      assert.match(text, /^HTTP\/1\.1 503/);
      assert.ok(text.endsWith('full'));
      const turns = counter.stop();
      // The body was read to its end (the write completed, no reset), each chunk as the pacer gave it a turn (Node's
      // parser did not drop it unread): at least one deferral per 64 KiB read, never more than one per turn.
      const deferred = turns.reduce((a, b) => a + b, 0);
      assert.ok(deferred >= size / (64 * 1024), `${deferred} chunks deferred in ${turns.length} turns`);
      assert.equal(Math.max(...turns), 1);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});

describe('the application server', () => {
  it('is built with the request gate and the configured socket time limits', async () => {
    const config = testConfig({ CITYSEG_HEADERS_TIMEOUT_MS: '3000', CITYSEG_KEEP_ALIVE_TIMEOUT_MS: '6000', CITYSEG_REQUEST_TIMEOUT_MS: '1500', CITYSEG_JOB_UPLOAD_TIMEOUT_MS: '2500' });
    const app = await buildApp(config);
    try {
      assert.equal(app.server.headersTimeout, 3000);
      assert.equal(app.server.keepAliveTimeout, 6000);
      // Node's own whole-request limit is the backstop, 5 s after our longest deadline (a video upload's here).
      assert.equal(app.server.requestTimeout, 7500);
      // Twenty requests written together on accepted connections reach Fastify over two turns or more.
      const counter = perTurnCounter();
      app.addHook('onRequest', async () => counter.count());
      await app.listen({ port: 0, host: '127.0.0.1' });
      const port = (app.server.address() as AddressInfo).port;
      const sockets = await openAccepted(app.server, port, 20);
      const answers = sockets.map(readUntilClose);
      for (const socket of sockets) socket.write('GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      assert.ok((await Promise.all(answers)).every((text) => text.startsWith('HTTP/1.1 200')));
      const turns = counter.stop();
      assert.equal(turns.reduce((a, b) => a + b, 0), 20);
      assert.ok(Math.max(...turns) <= REQUESTS_PER_TURN, `per turn: ${turns.join(',')}`);
    } finally {
      await app.close();
    }
  });
});

describe('pipelined requests', () => {
  it(`answers up to PIPELINE_DEPTH in order, then a 429 that closes the connection; a longer pipeline is cut`, async () => {
    const server = http.createServer(
      gateRequests((request, response) => {
        response.writeHead(200, { 'content-type': 'text/plain' }).end(request.url);
      }),
    );
    const port = await listen(server);
    try {
      const pipeline = async (count: number) => {
        const socket = net.connect(port, '127.0.0.1');
        await once(socket, 'connect');
        const answer = readUntilClose(socket);
        // The last asks the server to close after answering it (a client that half-closes is taken as gone).
        const requests = Array.from({ length: count }, (_, i) => `GET /r${i} HTTP/1.1\r\nHost: x\r\n${i === count - 1 ? 'Connection: close\r\n' : ''}\r\n`);
        socket.write(requests.join(''));
        return answer;
      };
      const within = await pipeline(PIPELINE_DEPTH);
      assert.deepEqual([...within.matchAll(/\r\n\r\n[0-9a-f]+\r\n(\/r\d+)/g)].map((m) => m[1]), Array.from({ length: PIPELINE_DEPTH }, (_, i) => `/r${i}`));

      const over = await pipeline(PIPELINE_DEPTH + 8);
      const statuses = [...over.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1]));
      assert.deepEqual(statuses, [...Array(PIPELINE_DEPTH).fill(200), 429]);
      assert.match(over, /more than 32 requests were sent on one connection without waiting for their answers/);
      assert.match(over, /connection: close/i);

      // Thousands in one write: the connection is cut once PIPELINE_DEPTH more have been read past the 429, so
      // Node holds no more than that many requests for it.
      let handled = 0;
      server.removeAllListeners('request');
      server.on('request', gateRequests((_request, response) => {
        handled += 1;
        response.end();
      }));
      await pipeline(5000);
      assert.ok(handled <= PIPELINE_DEPTH, `${handled} handled`);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});

describe('drainIdleConnections', () => {
  it('near the connection cap, closes connections idle past the threshold so a new one is served', async () => {
    // Behind the request gate, as the application's server is: the gate counts each connection's requests.
    const server = http.createServer(gateRequests((_request, response) => response.end('ok')));
    server.maxConnections = 20;
    drainIdleConnections(server, 20, 50);
    const port = await listen(server);
    const silent: net.Socket[] = [];
    try {
      // One busy connection: its request is never answered, so it must survive every drain.
      const busy = net.connect(port, '127.0.0.1');
      let busyClosed = false;
      busy.on('close', () => (busyClosed = true));
      const held = new Promise<void>((resolve) => server.prependOnceListener('request', (_request, response) => {
        response.end = (() => response) as typeof response.end;
        resolve();
      }));
      busy.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
      await held;
      // Seventeen silent ones (17 + 1 = 18 = 90% of 20): closed as they pass 50 ms idle, until under 18 are open.
      silent.push(...(await openAccepted(server, port, 17)));
      const openNow = () => new Promise<number>((resolve, reject) => server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
      for (let waited = 0; (await openNow()) >= 18; waited += 10) {
        assert.ok(waited < 5000, 'the silent connections were not closed');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      // Room again: a new connection is answered.
      const text = await new Promise<string>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (response) => {
          let body = '';
          response.on('data', (chunk: Buffer) => (body += chunk));
          response.on('end', () => resolve(body));
        }).on('error', reject);
      });
      assert.equal(text, 'ok');
      assert.equal(busyClosed, false, 'a connection with a request in progress is never drained');
      busy.destroy();
    } finally {
      for (const socket of silent) socket.destroy();
      server.closeAllConnections();
      server.close();
    }
  });
});
