/**
 * Signals against the compiled server (dist/server/main.js): a second SIGTERM while a forward pass runs, SIGTERM
 * while the models warm up, SIGHUP before anything has loaded, requests the server has not read yet when the
 * signal comes. Each ends with a clean exit status and every accepted request answered.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { rawExchange, readyServer, startServer, waitForLog, waitInFlight } from './server-process.js';
import { encodeImage } from './server-helpers.js';

/** Whether the process `pid` has installed a handler for signal number `signo` (Linux: SigCgt in /proc). */
function catches(pid: number, signo: number): boolean | undefined {
  try {
    const mask = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return mask === undefined ? undefined : (BigInt(`0x${mask}`) & (1n << BigInt(signo - 1))) !== 0n;
  } catch {
    return undefined;
  }
}

const SIGHUP_NUMBER = 1;

interface Answer {
  status: number;
  type: string;
  retryAfter: string | undefined;
  connection: string | undefined;
  body: string;
}

/** Posts `body` to `url` through `agent`; resolves with the whole answer, or with the error that cut it. */
function post(url: string, body: Buffer, agent: http.Agent): Promise<Answer | Error> {
  return new Promise((resolve) => {
    const request = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'image/png', 'content-length': body.length } }, (response) => {
      let text = '';
      response.setEncoding('latin1');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('error', resolve);
      response.on('end', () =>
        resolve({ status: response.statusCode!, type: String(response.headers['content-type']), retryAfter: response.headers['retry-after'], connection: response.headers.connection, body: text }),
      );
    });
    request.on('error', resolve);
    request.end(body);
  });
}

/**
 * A raw keep-alive connection that has had one answer (GET /healthz) and stays open, idle; `send` writes the next
 * request and resolves with everything the server wrote after the first answer, once it closes the connection.
 */
async function keptAlive(base: string): Promise<{ send: (request: Buffer) => Promise<string> }> {
  const { hostname, port } = new URL(base);
  const socket = net.connect(Number(port), hostname);
  socket.on('error', () => undefined);
  let text = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (text += chunk));
  const closed = once(socket, 'close');
  await once(socket, 'connect');
  socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  while (!/\r\n\r\n[\s\S]*\}/.test(text)) await sleep(10);
  assert.match(text, /^HTTP\/1\.1 200 /);
  const first = text.length;
  return {
    send: async (request) => {
      socket.write(request);
      await closed;
      return text.slice(first);
    },
  };
}

/** Status, headers and body of a raw HTTP/1.1 answer, as an Answer. */
function parseRaw(text: string): Answer {
  const [headers, body = ''] = text.split('\r\n\r\n');
  const header = (name: string) => new RegExp(`\r\n${name}: ([^\r]*)`, 'i').exec(headers)?.[1];
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(headers)?.[1]), type: header('content-type') ?? '', retryAfter: header('retry-after'), connection: header('connection'), body };
}

/** A complete answer: 200, or the shutdown's 503 problem+json with Retry-After. */
function assertAnswered(answer: Answer | Error, what: string): void {
  assert.ok(!(answer instanceof Error), `${what} was cut without an answer: ${answer instanceof Error ? answer.message : ''}`);
  if (answer.status === 200) return;
  assert.equal(answer.status, 503, `${what}: ${answer.body.slice(0, 200)}`);
  assert.match(answer.type, /^application\/problem\+json/);
  assert.equal(JSON.parse(answer.body).type.endsWith('shutting-down'), true, answer.body);
  assert.equal(answer.retryAfter, '1');
}

describe('server signals (compiled build)', () => {
  it('a second SIGTERM during a forward pass is ignored: the request is answered 200, exit 0', async () => {
    const { server, base } = await readyServer({ CITYSEG_SHUTDOWN_TIMEOUT_MS: '60000' });
    try {
      const response = fetch(`${base}/v1/segment?size=native&format=trainIds`, {
        method: 'POST',
        body: new Uint8Array(await encodeImage(1600, 1200, 7)),
        headers: { 'content-type': 'image/png' },
      });
      await waitInFlight(base, 1);
      server.child.kill('SIGTERM');
      await waitForLog(server, 'shutting down: finishing in-flight requests');
      server.child.kill('SIGTERM');
      server.child.kill('SIGINT');
      assert.equal((await response).status, 200);
      assert.equal(await server.exit, 0);
      assert.ok(server.logs.some((l) => l.msg === 'already shutting down: the in-flight requests are still being answered'));
      assert.doesNotMatch(server.stderr(), /Napi::Error|terminate called/);
    } finally {
      server.child.kill('SIGKILL');
    }
  });

  it('requests sent while the process is stopped, then two SIGTERMs: every one is answered 200 or 503, none reset; exit 0', async (t) => {
    if (process.platform === 'win32') {
      t.skip('needs SIGSTOP/SIGCONT');
      return;
    }
    const { server, base } = await readyServer({ CITYSEG_SHUTDOWN_TIMEOUT_MS: '60000' });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 100 });
    try {
      const image = await encodeImage(640, 480, 9);
      // Kept-alive connections, idle when the signal comes: their next requests are sent during the shutdown.
      const warm = await Promise.all(Array.from({ length: 6 }, () => post(`${base}/v1/segment?format=labelIds`, image, agent)));
      for (const answer of warm) assert.equal((answer as Answer).status, 200);
      // An upload admitted before the signal whose body is still arriving holds the drain open, and a kept-alive
      // connection, idle when the signal comes, sends its next request during the drain.
      const head = `POST /v1/segment?format=labelIds HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: ${image.length}\r\n\r\n`;
      let finishHolder!: () => void;
      const holderMayFinish = new Promise<void>((resolve) => (finishHolder = resolve));
      const holder = rawExchange(base, async (socket) => {
        socket.write(head);
        socket.write(image.subarray(0, image.length >> 1));
        await holderMayFinish;
        socket.write(image.subarray(image.length >> 1));
      }, 60_000);
      await waitInFlight(base, 1);
      const idle = await keptAlive(base);
      // While the process is stopped the kernel completes handshakes and buffers requests: when it resumes, the
      // signal is handled in the same turn as connections still queued for accept, accepted and unread, or
      // kept-alive with a request unread.
      server.child.kill('SIGSTOP');
      const posts = Array.from({ length: 24 }, () => post(`${base}/v1/segment?format=labelIds`, image, agent));
      // Headers and half the body sent; the rest after the shutdown has begun.
      let sendRest!: () => void;
      const shutdownBegun = new Promise<void>((resolve) => (sendRest = resolve));
      const partial = Array.from({ length: 4 }, () =>
        rawExchange(base, async (socket) => {
          socket.write(head);
          socket.write(image.subarray(0, image.length >> 1));
          await shutdownBegun;
          socket.write(image.subarray(image.length >> 1));
        }, 60_000),
      );
      await sleep(300);
      server.child.kill('SIGTERM');
      server.child.kill('SIGCONT');
      await waitForLog(server, 'shutting down: finishing in-flight requests');
      server.child.kill('SIGTERM');
      sendRest();
      const late = parseRaw(await idle.send(Buffer.concat([Buffer.from(head), image])));
      assertAnswered(late, 'a request on a kept-alive connection during the drain');
      assert.equal(late.status, 503);
      assert.equal(late.connection, 'close');
      finishHolder();
      const held = await holder;
      assertAnswered(parseRaw(held.text), 'the upload admitted before the signal');

      const answers = await Promise.all(posts);
      answers.forEach((answer, i) => assertAnswered(answer, `post ${i}`));
      for (const { text } of await Promise.all(partial)) {
        const [headers, body] = text.split('\r\n\r\n');
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(headers)?.[1]);
        assertAnswered(
          { status, type: /content-type: (.*)/i.exec(headers)?.[1] ?? '', retryAfter: /retry-after: (.*)/i.exec(headers)?.[1]?.trim(), connection: undefined, body: status === 200 ? '' : body },
          'a body still arriving',
        );
      }
      assert.ok(answers.some((answer) => (answer as Answer).status === 503), 'the requests read after the signal are refused');
      assert.equal(await server.exit, 0);
      assert.doesNotMatch(server.stderr(), /Napi::Error|terminate called/);
    } finally {
      agent.destroy();
      server.child.kill('SIGKILL');
    }
  });

  it('bodies still arriving at SIGTERM are answered 503 within the shutdown budget (image and job uploads), exit 1', async () => {
    // The request timeout (30 s) is far past the shutdown budget: a body held until it would be answered 408.
    const { server, base } = await readyServer({ CITYSEG_SHUTDOWN_TIMEOUT_MS: '2000', CITYSEG_REQUEST_TIMEOUT_MS: '30000', CITYSEG_BODY_IDLE_TIMEOUT_MS: '30000' });
    const trickles: NodeJS.Timeout[] = [];
    try {
      const upload = (path: string, type: string) =>
        rawExchange(
          base,
          (socket) => {
            socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: ${type}\r\nContent-Length: 1000000\r\n\r\n`);
            trickles.push(setInterval(() => socket.writable && socket.write(Buffer.alloc(4096, 1)), 200));
          },
          40_000,
        );
      const answers = [upload('/v1/segment', 'image/jpeg'), upload('/v1/jobs', 'video/mp4')];
      await waitInFlight(base, 2);
      server.child.kill('SIGTERM');
      for (const [i, { text }] of (await Promise.all(answers)).entries()) {
        const answer = parseRaw(text);
        assertAnswered(answer, `upload ${i}`);
        assert.equal(answer.status, 503, answer.body);
        assert.equal(answer.connection, 'close');
      }
      // Work was cut by the budget: exit 1, as documented.
      assert.equal(await server.exit, 1);
      assert.ok(server.logs.some((l) => l.msg === 'shutdown budget nearly spent: answering the rest 503' && l.receiving === 2));
    } finally {
      for (const trickle of trickles) clearInterval(trickle);
      server.child.kill('SIGKILL');
    }
  });

  it('requests pipelined on one connection during the drain are each answered 503; the last answer closes it', async () => {
    const { server, base } = await readyServer({ CITYSEG_SHUTDOWN_TIMEOUT_MS: '3000', CITYSEG_BODY_IDLE_TIMEOUT_MS: '30000' });
    let trickle: NodeJS.Timeout | undefined;
    try {
      // A body still arriving keeps the drain going while the pipelined requests come.
      const upload = rawExchange(base, (socket) => {
        socket.write('POST /v1/segment HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 1000000\r\n\r\n');
        trickle = setInterval(() => socket.writable && socket.write(Buffer.alloc(4096, 1)), 200);
      });
      const connection = await keptAlive(base);
      await waitInFlight(base, 1);
      server.child.kill('SIGTERM');
      await waitForLog(server, 'shutting down: finishing in-flight requests');
      const text = await connection.send(Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /readyz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'));
      const answers = text.split(/(?=HTTP\/1\.1 \d{3} )/).map(parseRaw);
      assert.equal(answers.length, 3, text.slice(0, 400));
      for (const [i, answer] of answers.entries()) assertAnswered(answer, `pipelined request ${i}`);
      assert.deepEqual(answers.map(({ status }) => status), [503, 503, 503]);
      assert.deepEqual(answers.map(({ connection }) => connection), [undefined, undefined, 'close']);
      await upload;
      assert.equal(await server.exit, 1);
    } finally {
      clearInterval(trickle);
      server.child.kill('SIGKILL');
    }
  });

  it('SIGTERM while the models warm up: the warm-up ends, the server closes, exit 0', async () => {
    // A large warm-up frame keeps the engine inside its first pass when the signal comes.
    const server = startServer({ CITYSEG_INFERENCE_SIZE: '1024', CITYSEG_SHUTDOWN_TIMEOUT_MS: '60000' });
    try {
      await waitForLog(server, /^Server listening at /);
      server.child.kill('SIGTERM');
      assert.equal(await server.exit, 0);
      assert.ok(server.logs.some((l) => l.msg === 'server closed'));
      assert.doesNotMatch(server.stderr(), /Napi::Error|terminate called/);
    } finally {
      server.child.kill('SIGKILL');
    }
  });

  it('SIGHUP before the server has started does not kill it; SIGTERM later exits 0', async (t) => {
    const server = startServer({});
    try {
      const pid = server.child.pid!;
      let caught = catches(pid, SIGHUP_NUMBER);
      if (caught === undefined) {
        t.skip('needs /proc/<pid>/status (Linux) to see when the handlers are installed');
        return;
      }
      while (!caught && server.child.exitCode === null) {
        await sleep(2);
        caught = catches(pid, SIGHUP_NUMBER);
      }
      // Installed before the server logs anything: the settings, Fastify and the engines load after the handlers.
      assert.equal(server.logs.length, 0, 'the handlers must be installed before the server starts');
      server.child.kill('SIGHUP');
      await waitForLog(server, 'ready');
      server.child.kill('SIGHUP');
      await sleep(200);
      assert.equal(server.child.exitCode, null);
      assert.match(server.stderr(), /SIGHUP ignored: the server is still starting/);
      server.child.kill('SIGTERM');
      assert.equal(await server.exit, 0);
    } finally {
      server.child.kill('SIGKILL');
    }
  });
});
