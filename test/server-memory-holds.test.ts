/**
 * What a request holds in the memory budget over real sockets: its answer until the client has read it (a slow
 * reader keeps it in this process) or has gone, and its body as the bytes arrive rather than as announced.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { InferenceJob, InferenceResult } from '../server/inference.js';
import type { JobRunner } from '../server/inference-queue.js';
import { appWithDefaultModels, encodeImage, eventually, testConfig } from './server-helpers.js';

/** Far more than loopback's socket buffers hold: the answer stays in the process while nobody reads it. */
const ANSWER_BYTES = 24 * 1024 ** 2;
const CAPACITY = 40 * 1024 ** 2;

/** Answers every segmentation job with a mask of ANSWER_BYTES (no pixel work). */
const bigAnswers: JobRunner<InferenceJob, InferenceResult> = {
  run: async () => ({
    task: 'segmentation',
    width: 4,
    height: 4,
    inferenceSize: { width: 4, height: 4 },
    timings: { decodeMs: 0, preprocessMs: 0, inferenceMs: 0, postprocessMs: 0, encodeMs: 0 },
    body: new Uint8Array(ANSWER_BYTES),
    contentType: 'image/png',
  }),
  close: async () => undefined,
};

/** Sends `head` + `body` on a new connection and never reads: the answer piles up in the server. */
function slowReader(port: number, head: string, body: Buffer): net.Socket {
  const socket = net.connect(port, '127.0.0.1', () => {
    socket.pause();
    socket.write(head);
    socket.write(body);
  });
  socket.on('error', () => undefined);
  return socket;
}

function uploadHead(length: number, extra = ''): string {
  return `POST /v1/segment?format=labelIds HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: ${length}\r\n${extra}\r\n`;
}

describe('memory budget holds (real sockets)', () => {
  let app: FastifyInstance;
  let port: number;
  let png: Buffer;

  before(async () => {
    // The budget alone is under test: the per-client share (server-client-share.test.ts) would refuse holders first.
    app = await appWithDefaultModels(testConfig({ CITYSEG_CLASSIFIER_ARCH: 'none', CITYSEG_CLIENT_IN_FLIGHT_LIMIT: '0' }), { runner: () => bigAnswers });
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as AddressInfo).port;
    png = await encodeImage(64, 48, 1);
  });

  after(() => app.close());

  const upload = (body: Buffer) =>
    fetch(`http://127.0.0.1:${port}/v1/segment?format=labelIds`, { method: 'POST', body: new Uint8Array(body), headers: { 'content-type': 'image/png' } });

  it('an unread answer stays reserved until the client goes; meanwhile a body beyond what is left gets 503', async () => {
    const budget = app.budget;
    budget.setCapacity(CAPACITY);
    assert.equal(budget.reserved, 0);
    const reader = slowReader(port, uploadHead(png.length), png);
    try {
      await eventually(() => budget.reserved >= ANSWER_BYTES);
      // 10 MB announced: its chunks and their joined copy (20 MB) do not fit in the 16 MB the reader left.
      const refused = await upload(Buffer.alloc(10 * 1024 ** 2, 1));
      assert.equal(refused.status, 503);
      assert.ok(Number(refused.headers.get('retry-after')) >= 1);
      assert.match((await refused.json()).detail, /^the memory budget has no room for the rest of this request body now/);
    } finally {
      reader.destroy();
    }
    await eventually(() => budget.reserved === 0);
    // The same body once the reader has gone: admitted, and refused only for what it is (not an image).
    const admitted = await upload(Buffer.alloc(10 * 1024 ** 2, 1));
    assert.equal(admitted.status, 415);
    assert.equal(budget.reserved, 0);
  });

  it('a finished answer is released: the budget reserved 0 once the client has read it', async () => {
    const budget = app.budget;
    budget.setCapacity(CAPACITY);
    const answer = await upload(png);
    assert.equal(answer.status, 200);
    assert.equal((await answer.arrayBuffer()).byteLength, ANSWER_BYTES);
    await eventually(() => budget.reserved === 0);
    assert.ok(budget.peak >= ANSWER_BYTES);
  });

  it('forty connections that announce 20 MiB and send nothing (Expect: 100-continue too) leave room for a real upload', async () => {
    const budget = app.budget;
    budget.setCapacity(CAPACITY);
    const holders = Array.from({ length: 40 }, (_, i) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write(uploadHead(20 * 1024 ** 2, i % 2 ? 'Expect: 100-continue\r\n' : '')));
      socket.on('error', () => undefined);
      return socket;
    });
    try {
      await eventually(() => budget.reserved >= 40 * 2 * 64 * 1024);
      // Each holds one chunk's charge (2 x 64 KiB), not 40 MiB.
      assert.equal(budget.reserved, 40 * 2 * 64 * 1024);
      const legitimate = await upload(png);
      assert.equal(legitimate.status, 200);
      await legitimate.arrayBuffer();
    } finally {
      for (const socket of holders) socket.destroy();
    }
    await eventually(() => budget.reserved === 0);
  });
});
