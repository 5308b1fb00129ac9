/**
 * Issue 9's hostile requests in small form, against the compiled server as a process (dist/server/main.js): every
 * request is bounded before work starts (memory, pixels, aspect ratio, output limits), slow clients are cut with
 * 408, a full queue answers from the headers, malformed multipart bodies get prompt 400s, health answers while
 * the worker is busy, and a shutdown answers every accepted request. Scaled to run in seconds.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { rawExchange, readyServer, waitForLog, type RawAnswer, type Server } from './server-process.js';
import { encodeImage } from './server-helpers.js';

const BUDGET = 1024 ** 3;

const SETTINGS = {
  CITYSEG_ARCH: 'lraspp_mobilenet_v3_small',
  CITYSEG_CLASSIFIER_ARCH: 'mobilenet_v3_small',
  CITYSEG_MEMORY_BUDGET: '1GiB',
  CITYSEG_MAX_INFERENCE_PIXELS: '1000000',
  CITYSEG_MAX_ASPECT_RATIO: '100000',
  CITYSEG_BODY_IDLE_TIMEOUT_MS: '500',
  CITYSEG_BODY_MIN_RATE: '2000',
  CITYSEG_HEADERS_TIMEOUT_MS: '500',
  CITYSEG_QUEUE_LIMIT: '1',
  CITYSEG_BODY_LIMIT: '8MiB',
  CITYSEG_REQUEST_TIMEOUT_MS: '60000',
};

/**
 * A client that announces `announced` body bytes and writes `sent` of them at once without waiting for an answer
 * (as a browser or curl does with a large upload), reading whatever comes back. `error` is the socket error the
 * client saw (ECONNRESET, EPIPE: the server reset the connection), '' when none.
 */
function eagerUpload(base: string, announced: number, sent: number): Promise<RawAnswer & { error: string }> {
  let error = '';
  return rawExchange(base, (socket) => {
    socket.on('error', (e: NodeJS.ErrnoException) => (error ||= e.code ?? e.message));
    socket.write(`POST /v1/segment HTTP/1.1\r\nHost: localhost\r\nContent-Type: image/jpeg\r\nContent-Length: ${announced}\r\n\r\n`);
    const chunk = Buffer.alloc(1024 ** 2, 0xff);
    for (let written = 0; written < sent; written += chunk.length) socket.write(chunk);
  }).then((answer) => ({ ...answer, error }));
}

/** The statuses of raw answers, counted ('none' for a connection closed without an answer, plus its error). */
function tally(answers: (RawAnswer & { error: string })[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const answer of answers) {
    const key = `${Number.isNaN(statusOf(answer)) ? 'none' : statusOf(answer)}${answer.error ? ` ${answer.error}` : ''}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

function statusOf(answer: RawAnswer): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(answer.text)?.[1]);
}

function problemOf(answer: RawAnswer): { detail: string } {
  return JSON.parse(answer.text.slice(answer.text.indexOf('\r\n\r\n') + 4)) as { detail: string };
}

const post = (base: string, path: string, body: Uint8Array, type = 'image/jpeg') =>
  fetch(`${base}${path}`, { method: 'POST', body: new Uint8Array(body), headers: { 'content-type': type } });

/** A multipart body from raw parts; `parts` are the bytes between boundaries, `close` adds the closing one. */
function multipart(boundary: string, parts: Buffer[], close = true): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) chunks.push(Buffer.from(`--${boundary}\r\n`), part, Buffer.from('\r\n'));
  if (close) chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

function filePart(name: string, bytes: Buffer, filename: string | undefined = 'x.jpg', extraHeaders = ''): Buffer {
  const disposition = `Content-Disposition: form-data; name="${name}"${filename ? `; filename="${filename}"` : ''}`;
  return Buffer.concat([Buffer.from(`${disposition}\r\n${extraHeaders}Content-Type: image/jpeg\r\n\r\n`), bytes]);
}

async function metricValue(base: string, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(pattern.exec(text)?.[1] ?? 0);
}

const INFERENCES = /^cityseg_inference_duration_seconds_count\{[^}]*task="segmentation"[^}]*\} (\d+)$/m;

describe('reliability under hostile requests (compiled server)', () => {
  let server: Server;
  let base: string;
  let jpeg: Buffer;
  let heavy: Buffer;

  before(async () => {
    ({ server, base } = await readyServer(SETTINGS));
    jpeg = await encodeImage(96, 64, 1, 'jpeg');
    heavy = await encodeImage(1000, 1000, 2, 'jpeg');
  });
  after(() => {
    server.child.kill('SIGKILL');
  });

  it('refuses from the header, before any work: aspect ratio, pixels per forward pass, JPEG overlay sides, classifier elongation', async () => {
    const before = await metricValue(base, INFERENCES);
    // 9,000,000 x 1 is over the aspect limit of 100000:1 set for this server.
    const strip = await sharp({ create: { width: 9_000_000, height: 1, channels: 3, background: '#808080' } }).png().toBuffer();
    const stripAnswer = await post(base, '/v1/segment?size=native', strip, 'image/png');
    assert.equal(stripAnswer.status, 422);
    assert.match((await stripAnswer.json()).detail, /9000000x1, an aspect ratio over the limit of 100000:1 \(CITYSEG_MAX_ASPECT_RATIO\)/);

    const big = await encodeImage(1500, 1000, 3, 'jpeg');
    const native = await post(base, '/v1/segment?size=native', big);
    assert.equal(native.status, 413);
    assert.match((await native.json()).detail, /inference at size=native runs at 1500x1000, 1500000 pixels, over the limit of 1000000 per forward pass \(CITYSEG_MAX_INFERENCE_PIXELS\)/);

    const wide = await sharp({ create: { width: 65_501, height: 2, channels: 3, background: '#405060' } }).png().toBuffer();
    const overlay = await post(base, '/v1/segment?format=overlay&size=64', wide, 'image/png');
    assert.equal(overlay.status, 400);
    assert.match((await overlay.json()).detail, /JPEG overlay has at most 65500 pixels per side .* use overlayFormat=png/);

    const thread = await sharp({ create: { width: 200_001, height: 1, channels: 3, background: '#405060' } }).png().toBuffer();
    const classify = await post(base, '/v1/classify', thread, 'image/png');
    assert.equal(classify.status, 422);

    const infinity = await post(base, '/v1/segment?format=overlay&alpha=Infinity', jpeg);
    assert.equal(infinity.status, 400);
    assert.equal(await metricValue(base, INFERENCES), before, 'none of these requests may reach inference');
  });

  it('closes a connection whose headers never finish (408)', async () => {
    const answer = await rawExchange(base, (socket) => {
      socket.write('POST /v1/segment HTTP/1.1\r\nHost: localhost\r\nContent-Type: image/jpeg\r\n');
    });
    assert.equal(statusOf(answer), 408);
  });

  it('answers 408 when the body stalls, naming the idle timeout, and closes the connection', async () => {
    const answer = await rawExchange(base, (socket) => {
      socket.write('POST /v1/segment HTTP/1.1\r\nHost: localhost\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n');
      socket.write(Buffer.alloc(1000, 0xff));
    });
    assert.equal(statusOf(answer), 408);
    assert.match(answer.text, /content-type: application\/problem\+json/i);
    assert.match(answer.text, /connection: close/i);
    assert.equal(problemOf(answer).detail, 'no request body bytes arrived for 500 ms');
  });

  it('answers 408 to a body trickling in under the minimum rate', async () => {
    const answer = await rawExchange(base, async (socket) => {
      socket.write('POST /v1/segment HTTP/1.1\r\nHost: localhost\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n');
      for (let i = 0; i < 100 && !socket.destroyed; i++) {
        socket.write(Buffer.alloc(10, 0xff));
        await sleep(100);
      }
    });
    assert.equal(statusOf(answer), 408);
    assert.equal(problemOf(answer).detail, 'the request body arrived slower than 2000 bytes/s');
  });

  it('refuses a body over the limit from its Content-Length, without reading it', async () => {
    const answer = await rawExchange(base, (socket) => {
      socket.write('POST /v1/segment HTTP/1.1\r\nHost: localhost\r\nContent-Type: image/jpeg\r\nContent-Length: 1000000000\r\n\r\n');
    });
    assert.equal(statusOf(answer), 413);
  });

  it('multipart: malformed bodies are prompt 400s naming the fault; the image part may come without a filename', async () => {
    const boundary = 'cityseg-test-boundary';
    const type = `multipart/form-data; boundary=${boundary}`;
    const cases: [string, Buffer, string, number, RegExp][] = [
      ['no boundary parameter', multipart(boundary, [filePart('image', jpeg)]), 'multipart/form-data', 400, /needs a boundary parameter/],
      ['cut before the closing boundary', multipart(boundary, [filePart('image', jpeg)], false), type, 400, /unexpected end of form/],
      ['junk', Buffer.from('this is not a form'), type, 400, /multipart body/],
      ['a part header over 80 KiB', multipart(boundary, [filePart('image', jpeg, 'x.jpg', `X-Pad: ${'a'.repeat(90_000)}\r\n`)]), type, 400, /malformed part header/],
      ['two image parts', multipart(boundary, [filePart('image', jpeg), filePart('image', jpeg)]), type, 400, /has 2 "image" parts/],
      ['another file part', multipart(boundary, [filePart('image', jpeg), filePart('mask', jpeg)]), type, 400, /file parts other than "image": mask/],
      ['two tiny unknown files', multipart(boundary, [filePart('a', Buffer.from('1')), filePart('b', Buffer.from('2'))]), type, 400, /no part "image" \(found file parts: a, b\)/],
    ];
    for (const [name, body, contentType, status, detail] of cases) {
      const answer = await post(base, '/v1/segment?format=json', body, contentType);
      assert.equal(answer.status, status, name);
      assert.match((await answer.json()).detail, detail, name);
    }
    const noDisposition = multipart(boundary, [
      Buffer.concat([Buffer.from('Content-Type: application/octet-stream\r\n\r\n'), Buffer.alloc(17_000, 1)]),
      filePart('image', jpeg),
    ]);
    assert.equal((await post(base, '/v1/segment?format=json', noDisposition, type)).status, 200, 'a part without Content-Disposition is skipped');
    const withoutFilename = multipart(boundary, [filePart('image', jpeg, undefined)]);
    assert.equal((await post(base, '/v1/segment?format=json', withoutFilename, type)).status, 200, "curl -F 'image=<file'");
  });

  it('while the worker is busy: health answers, a full queue answers 503 from the headers, memory stays under the budget', async () => {
    // Queue limit 1 and one worker taking 2 jobs: three requests fill it.
    // Eight passes each (test-time augmentation), so the three are still in flight while health is probed.
    const busy = [1, 2, 3].map(() => post(base, '/v1/segment?size=native&format=labelIds&scales=1,1,1,1&flip=true', heavy));
    for (let waited = 0; (await metricValue(base, /^cityseg_http_requests_in_flight (\d+)$/m)) < 4; waited++) {
      assert.ok(waited < 2000, 'the three requests never got in flight');
      await sleep(10);
    }
    // Health keeps answering while inference runs in the worker.
    for (let i = 0; i < 5; i++) assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.ok((await metricValue(base, /^cityseg_inference_running (\d+)$/m)) > 0, 'health must have answered during inference');
    // The fourth announces a 5 MB body and never sends it: refused from its headers.
    const refused = await rawExchange(base, (socket) => {
      socket.write('POST /v1/segment HTTP/1.1\r\nHost: localhost\r\nContent-Type: image/jpeg\r\nContent-Length: 5000000\r\n\r\n');
    });
    assert.equal(statusOf(refused), 503);
    assert.match(refused.text, /retry-after: \d+/i);
    assert.match(problemOf(refused).detail, /inference queue is full \(1 waiting, 2 running\)/);
    const statuses = await Promise.all(busy.map(async (response) => (await response).status));
    assert.deepEqual(statuses, [200, 200, 200]);
    const peak = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.child.pid}/status`, 'utf8'))?.[1]) * 1024;
    assert.ok(peak < BUDGET, `peak RSS ${peak} is over the 1 GiB budget`);
  });
});

describe('refused uploads read their answer, not a reset (compiled server)', () => {
  it('clients still sending when refused (413 from Content-Length, 503 queue full) all read a problem answer', async () => {
    // Headers and bodies get the default time limits here: the uploads below arrive together on two shared cores.
    const { server, base } = await readyServer({
      ...SETTINGS,
      CITYSEG_CLASSIFIER_ARCH: 'none',
      CITYSEG_HEADERS_TIMEOUT_MS: '10000',
      CITYSEG_BODY_IDLE_TIMEOUT_MS: '20000',
      CITYSEG_BODY_MIN_RATE: '0',
      // The queue's and the body limit's refusals are under test: the per-client share would answer the same
      // address 429 first.
      CITYSEG_CLIENT_IN_FLIGHT_LIMIT: '0',
    });
    try {
      // Each announces 64 MiB (over the 8 MiB limit) and sends 4 MiB at once: closing at the answer resets them.
      const tooLarge = await Promise.all(Array.from({ length: 60 }, () => eagerUpload(base, 64 * 1024 ** 2, 4 * 1024 ** 2)));
      assert.deepEqual(tally(tooLarge), { 413: 60 });
      for (const answer of tooLarge) assert.match(answer.text, /content-type: application\/problem\+json/i);

      // Three uploads that stall after their first bytes hold every place in the queue (1 waiting, 2 running).
      const holders = [1, 2, 3].map(() =>
        rawExchange(base, (socket) => {
          socket.write('POST /v1/segment HTTP/1.1\r\nHost: localhost\r\nContent-Type: image/jpeg\r\nContent-Length: 1000\r\n\r\nxx');
        }, 60_000),
      );
      for (let waited = 0; (await metricValue(base, /^cityseg_http_requests_in_flight (\d+)$/m)) < 3; waited++) {
        assert.ok(waited < 2000, 'the three holders never got in flight');
        await sleep(10);
      }
      // Forty send their whole 4 MiB bodies at once: each is refused from its headers and reads its 503.
      const queueFull = await Promise.all(Array.from({ length: 40 }, () => eagerUpload(base, 4 * 1024 ** 2, 4 * 1024 ** 2)));
      assert.deepEqual(tally(queueFull), { 503: 40 });
      for (const answer of queueFull) assert.match(problemOf(answer).detail, /inference queue is full \(1 waiting, 2 running\)/);

      assert.equal((await fetch(`${base}/healthz`)).status, 200);
      const peak = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.child.pid}/status`, 'utf8'))?.[1]) * 1024;
      assert.ok(peak < BUDGET, `peak RSS ${peak} is over the 1 GiB budget`);
      server.child.kill('SIGKILL');
      await Promise.all(holders);
    } finally {
      server.child.kill('SIGKILL');
    }
  });
});

describe('shutdown answers every accepted request (compiled server)', () => {
  it('SIGTERM with more work than the shutdown budget: every request gets 200 or 503 with Retry-After, none is cut', async () => {
    const { server, base } = await readyServer({
      ...SETTINGS,
      CITYSEG_CLASSIFIER_ARCH: 'none',
      CITYSEG_QUEUE_LIMIT: '30',
      CITYSEG_SHUTDOWN_TIMEOUT_MS: '1500',
    });
    try {
      const heavy = await encodeImage(1000, 1000, 4, 'jpeg');
      const requests = Array.from({ length: 12 }, () =>
        post(base, '/v1/segment?size=native&format=labelIds', heavy).then(
          (response) => ({ status: response.status, retryAfter: response.headers.get('retry-after') }),
          (error: Error) => ({ status: 0, retryAfter: error.message }),
        ),
      );
      for (let waited = 0; (await metricValue(base, /^cityseg_http_requests_in_flight (\d+)$/m)) < 13; waited++) {
        assert.ok(waited < 3000, 'the requests never got in flight');
        await sleep(10);
      }
      server.child.kill('SIGTERM');
      const answers = await Promise.all(requests);
      for (const answer of answers) {
        assert.ok(answer.status === 200 || answer.status === 503, `a request got ${answer.status} (${answer.retryAfter})`);
        if (answer.status === 503) assert.match(answer.retryAfter ?? '', /^\d+$/);
      }
      assert.ok(answers.some((answer) => answer.status === 503), 'twelve native requests cannot all finish in 1.5 s');
      await waitForLog(server, 'shutdown budget nearly spent: answering the rest 503');
      const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
        server.child.exitCode !== null || server.child.signalCode !== null
          ? resolve([server.child.exitCode, server.child.signalCode])
          : server.child.once('exit', (c, s) => resolve([c, s])),
      );
      // A forced exit while ONNX Runtime is inside a forward pass in a worker aborts in native code (SIGABRT);
      // ORT cannot interrupt a running session.run from JavaScript. Every request was answered first.
      assert.ok(code === 1 || code === 0 || signal === 'SIGABRT', `exit ${code} / ${signal}: ${server.stderr()}`);
    } finally {
      server.child.kill('SIGKILL');
    }
  });
});
