import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { contentCodings } from '../server/content-encoding.js';
import { appWithDefaultModels, encodeImage, testConfig } from './server-helpers.js';

const BODY_LIMIT = 1024 * 1024;

/** gzip of `bytes` zeros: about 1/1000 of their size, the shape of a decompression bomb. */
const zeroBomb = (bytes: number) => gzipSync(Buffer.alloc(bytes), { level: 9 });

describe('Content-Encoding of request bodies', () => {
  let app: FastifyInstance;
  let png: Buffer;
  let plainMask: Buffer;

  before(async () => {
    app = await appWithDefaultModels(
      testConfig({ CITYSEG_ARCH: 'lraspp_mobilenet_v3_small', CITYSEG_CLASSIFIER_ARCH: 'none', CITYSEG_BODY_LIMIT: String(BODY_LIMIT) }),
    );
    await app.listen({ port: 0, host: '127.0.0.1' });
    png = await encodeImage(48, 32, 3);
    const plain = await segment(png);
    assert.equal(plain.statusCode, 200);
    plainMask = plain.rawPayload;
  });
  after(() => app.close());

  function segment(payload: Buffer, encoding?: string, contentType = 'image/png') {
    return app.inject({
      method: 'POST',
      url: '/v1/segment?format=labelIds',
      payload,
      headers: { 'content-type': contentType, ...(encoding === undefined ? {} : { 'content-encoding': encoding }) },
    });
  }

  it('reads the codings in the order they were applied, identity dropped', () => {
    assert.deepEqual(contentCodings('gzip'), ['gzip']);
    assert.deepEqual(contentCodings(' BR , identity,gzip '), ['br', 'gzip']);
    assert.deepEqual(contentCodings('identity'), []);
  });

  it('decodes gzip, deflate, br and a stack of two: the same mask as the plain image', async () => {
    const bodies: [string, Buffer][] = [
      ['gzip', gzipSync(png)],
      ['x-gzip', gzipSync(png)],
      ['deflate', deflateSync(png)],
      ['br', brotliCompressSync(png)],
      ['identity', png],
      ['gzip, br', brotliCompressSync(gzipSync(png))],
    ];
    for (const [encoding, body] of bodies) {
      const response = await segment(body, encoding);
      assert.equal(response.statusCode, 200, `${encoding}: ${response.body}`);
      assert.deepEqual(response.rawPayload, plainMask, encoding);
    }
  });

  it('a gzip bomb with Content-Length is a 413 naming the decoded limit', async () => {
    const bomb = zeroBomb(64 * BODY_LIMIT);
    assert.ok(bomb.length < BODY_LIMIT / 4, 'the compressed body itself is well under the limit');
    const response = await segment(bomb, 'gzip');
    assert.equal(response.statusCode, 413);
    assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.equal(response.headers.connection, 'close');
    assert.deepEqual(response.json(), {
      type: 'urn:cityseg:problem:payload-too-large',
      title: 'Payload too large',
      status: 413,
      detail: `the gzip-encoded body decodes to more than ${BODY_LIMIT} bytes (the body limit)`,
    });
  });

  it('a gzip bomb sent chunked, without Content-Length, is bounded the same way', async () => {
    const bomb = zeroBomb(64 * BODY_LIMIT);
    const { port } = app.server.address() as { port: number };
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port, method: 'POST', path: '/v1/segment', headers: { 'content-type': 'image/png', 'content-encoding': 'gzip', 'transfer-encoding': 'chunked' } },
        (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      // Written in small chunks: no Content-Length reaches the server.
      for (let offset = 0; offset < bomb.length; offset += 4096) req.write(bomb.subarray(offset, offset + 4096));
      req.end();
    });
    assert.equal(status, 413);
    assert.equal(JSON.parse(body).type, 'urn:cityseg:problem:payload-too-large');
  });

  it('a compressed body over the limit itself is a 413 before decoding', async () => {
    const response = await segment(Buffer.alloc(BODY_LIMIT + 1), 'gzip');
    assert.equal(response.statusCode, 413);
  });

  it('an unknown coding is a 415 naming it', async () => {
    for (const encoding of ['compress', 'zstd', 'gzip, snappy']) {
      const response = await segment(png, encoding);
      assert.equal(response.statusCode, 415, encoding);
      assert.equal(response.json().type, 'urn:cityseg:problem:unsupported-media-type');
      assert.equal(response.json().detail, `Content-Encoding '${encoding.split(', ').at(-1)}' is not supported: send the body with gzip, deflate, br or no encoding`);
    }
  });

  it('charges a body in the memory budget as its decoded bytes arrive, coded or not (two copies: chunks and joined)', async () => {
    const budget = app.budget;
    const charges: number[] = [];
    const tryReserve = budget.tryReserve.bind(budget);
    budget.tryReserve = (bytes: number) => {
      // The body's charges only, not the inference job's working memory.
      if (new Error().stack?.includes('admission')) charges.push(bytes);
      return tryReserve(bytes);
    };
    const total = () => charges.reduce((sum, bytes) => sum + bytes, 0);
    try {
      // Larger than the first charge (64 KiB from the headers) and compressible: the decoded bytes are what count.
      const large = await encodeImage(400, 300, 3, 'png');
      const gz = gzipSync(Buffer.concat([large, Buffer.alloc(200_000)]));
      assert.equal((await segment(gz, 'gzip')).statusCode, 200, 'bytes after the end of the PNG are ignored by the decoder');
      assert.equal(charges[0], 2 * Math.min(gz.length, 64 * 1024), 'the headers charge the announced length up to one chunk');
      assert.equal(total(), 2 * (large.length + 200_000));
      charges.length = 0;
      assert.equal((await segment(png)).statusCode, 200);
      assert.equal(total(), 2 * png.length);
      assert.equal(budget.reserved, 0, 'released when the answer is finished');
    } finally {
      budget.tryReserve = tryReserve;
    }
  });

  it('bytes that are not the declared coding are a 400 naming it', async () => {
    const response = await segment(png, 'gzip');
    assert.equal(response.statusCode, 400);
    assert.equal(response.json().type, 'urn:cityseg:problem:bad-parameter');
    assert.match(response.json().detail, /^the body is not valid gzip data \(Content-Encoding\): /);
  });

  it('decodes an encoded multipart form too: the same mask as the plain image', async () => {
    const boundary = 'x-boundary';
    const form = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n`),
      png,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    for (const [encoding, body] of [['gzip', gzipSync(form)], ['br', brotliCompressSync(form)]] as const) {
      const response = await segment(body, encoding, `multipart/form-data; boundary=${boundary}`);
      assert.equal(response.statusCode, 200, `${encoding}: ${response.body}`);
      assert.deepEqual(response.rawPayload, plainMask, encoding);
    }
  });

  it('a request without a body ignores the header', async () => {
    const response = await app.inject({ url: '/v1/models', headers: { 'content-encoding': 'compress' } });
    assert.equal(response.statusCode, 200);
  });
});
