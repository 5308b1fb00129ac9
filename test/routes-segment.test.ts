import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import request from 'supertest';
import sharp from 'sharp';
import { CITYSCAPES_LABELS } from '../segmentation/labels/index.js';
import { decodeRle } from '../segmentation/rle.js';
import { parseServerTiming, REQUEST_STAGES } from '../segmentation/stages.js';
import { endEveryLine, rle8File } from './hostile-bmp.js';
import { appWithDefaultModels, decodeRaw, encodeImage, patternPixels, testConfig } from './server-helpers.js';

const TRAIN_LABELS = CITYSCAPES_LABELS.filter((l) => l.trainId >= 0 && l.trainId < 255).sort((a, b) => a.trainId - b.trainId);
const LABEL_ID_OF_TRAIN_ID = TRAIN_LABELS.map((l) => l.id);
const COLOR_OF_TRAIN_ID = TRAIN_LABELS.map((l) => l.color);
const BODY_LIMIT = 200 * 1024;
const MAX_PIXELS = 250_000;

/** supertest buffers image answers into `body` with this parser. */
function binary(res: request.Response, done: (err: Error | null, body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (chunk: Buffer) => chunks.push(chunk));
  res.on('end', () => done(null, Buffer.concat(chunks)));
}

describe('POST /v1/segment', () => {
  let app: FastifyInstance;
  let png: Buffer; // 96x72
  let trainIds: Buffer; // that image's trainIds mask, the reference for the other formats

  const segment = (query = '', body: Buffer = png, type = 'image/png') =>
    request(app.server).post(`/v1/segment${query}`).set('content-type', type).buffer(true).parse(binary).send(body);

  before(async () => {
    app = await appWithDefaultModels(
      testConfig({ CITYSEG_BODY_LIMIT: String(BODY_LIMIT), CITYSEG_MAX_PIXELS: String(MAX_PIXELS), CITYSEG_CLASSIFIER_ARCH: 'none' }),
    );
    png = await encodeImage(96, 72, 3);
    const res = await segment('?format=trainIds');
    assert.equal(res.status, 200);
    trainIds = (await decodeRaw(res.body)).data;
  });
  after(() => app.close());

  it('answers a colour PNG of the image’s size by default, with the documented headers', async () => {
    const res = await segment('', png).set('x-request-id', 'seg-42');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'image/png');
    assert.equal(res.headers['x-model'], 'lraspp_mobilenet_v3_large');
    // The test models are seeded untrained initialisations: every answer says so.
    assert.equal(res.headers['x-model-trained'], 'false');
    assert.equal(res.headers['x-mask-width'], '96');
    assert.equal(res.headers['x-mask-height'], '72');
    assert.equal(res.headers['x-request-id'], 'seg-42');
    assert.ok(Number(res.headers['x-inference-ms']) > 0);
    // Server-Timing names every stage of a whole pass, in order (the bench reads it).
    assert.deepEqual(Object.keys(parseServerTiming(res.headers['server-timing'])), REQUEST_STAGES.map((s) => s.name));
    const color = await decodeRaw(res.body);
    assert.deepEqual([color.width, color.height, color.channels], [96, 72, 3]);
    // Every pixel is the palette colour of its trainId.
    for (let p = 0; p < 96 * 72; p++) {
      const expected = COLOR_OF_TRAIN_ID[trainIds[p]];
      assert.deepEqual([color.data[p * 3], color.data[p * 3 + 1], color.data[p * 3 + 2]], expected, `pixel ${p}`);
    }
  });

  it('trainIds is a grey PNG of trainIds 0..18', async () => {
    assert.equal(trainIds.length, 96 * 72);
    assert.ok(trainIds.every((v) => v < 19));
    // Several classes, so the cross-format checks below compare something.
    assert.ok(new Set(trainIds).size >= 3, `only classes ${[...new Set(trainIds)]}`);
  });

  it('labelIds is a grey PNG of the Cityscapes ids of those trainIds', async () => {
    const res = await segment('?format=labelIds');
    assert.equal(res.status, 200);
    const ids = await decodeRaw(res.body);
    assert.deepEqual([ids.width, ids.height, ids.channels], [96, 72, 1]);
    const valid = new Set(LABEL_ID_OF_TRAIN_ID);
    for (let p = 0; p < ids.data.length; p++) {
      assert.ok(valid.has(ids.data[p]), `pixel ${p} has id ${ids.data[p]}`);
      assert.equal(ids.data[p], LABEL_ID_OF_TRAIN_ID[trainIds[p]]);
    }
  });

  it('json: sizes, timings, and class statistics that match the mask exactly', async () => {
    const res = await segment('?format=json&size=64');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^application\/json/);
    const body = JSON.parse(res.body.toString());
    assert.equal(body.model, 'lraspp_mobilenet_v3_large');
    assert.equal(body.trained, false);
    assert.equal(res.headers['x-model-trained'], 'false');
    assert.equal(body.width, 96);
    assert.equal(body.height, 72);
    assert.deepEqual(body.inferenceSize, { width: 64, height: 48 });
    for (const key of ['decodeMs', 'preprocessMs', 'inferenceMs', 'postprocessMs', 'totalMs']) {
      assert.equal(typeof body.timings[key], 'number', key);
      assert.ok(body.timings[key] >= 0, key);
    }
    assert.ok(body.timings.totalMs >= body.timings.inferenceMs);

    const histogram = new Map<number, number>();
    for (const v of trainIds) histogram.set(v, (histogram.get(v) ?? 0) + 1);
    assert.deepEqual(
      body.classes.map((c: { index: number }) => c.index),
      [...histogram.keys()].sort((a, b) => a - b),
    );
    let fractionSum = 0;
    for (const c of body.classes) {
      assert.equal(c.pixels, histogram.get(c.index));
      assert.equal(c.fraction, c.pixels / (96 * 72));
      assert.equal(c.id, LABEL_ID_OF_TRAIN_ID[c.index]);
      assert.equal(c.name, TRAIN_LABELS[c.index].name);
      assert.deepEqual(c.color, COLOR_OF_TRAIN_ID[c.index]);
      assert.equal(c.rle, undefined);
      fractionSum += c.fraction;
    }
    assert.ok(Math.abs(fractionSum - 1) < 1e-12, `fractions sum to ${fractionSum}`);
  });

  it('json with rle=true: each class’s RLE decodes to exactly its pixels', async () => {
    const res = await segment('?format=json&rle=true');
    const body = JSON.parse(res.body.toString());
    for (const c of body.classes) {
      assert.deepEqual(c.rle.size, [72, 96]);
      const mask = decodeRle(c.rle);
      for (let p = 0; p < mask.length; p++) assert.equal(mask[p], trainIds[p] === c.index ? 1 : 0);
    }
  });

  it('Accept: application/json selects json unless a format is given', async () => {
    const json = await segment().set('accept', 'application/json');
    assert.match(json.headers['content-type'], /^application\/json/);
    assert.equal(JSON.parse(json.body.toString()).width, 96);
    const color = await segment('?format=color').set('accept', 'application/json');
    assert.equal(color.headers['content-type'], 'image/png');
  });

  it('overlay: JPEG by default; alpha 0 gives the image back, alpha 1 the colour mask', async () => {
    const jpeg = await segment('?format=overlay');
    assert.equal(jpeg.status, 200);
    assert.equal(jpeg.headers['content-type'], 'image/jpeg');
    const decoded = await decodeRaw(jpeg.body);
    assert.deepEqual([decoded.width, decoded.height, decoded.channels], [96, 72, 3]);

    const clear = await segment('?format=overlay&overlayFormat=png&alpha=0');
    assert.equal(clear.headers['content-type'], 'image/png');
    assert.deepEqual((await decodeRaw(clear.body)).data, patternPixels(96, 72, 3));

    const opaque = await segment('?format=overlay&overlayFormat=png&alpha=1');
    const colour = await segment('?format=color');
    assert.deepEqual((await decodeRaw(opaque.body)).data, (await decodeRaw(colour.body)).data);
  });

  it('size sets the inference long side; native runs at the image size; the mask keeps the image size', async () => {
    const cases: [string, { width: number; height: number }][] = [
      ['32', { width: 32, height: 24 }],
      ['native', { width: 96, height: 72 }],
      ['4096', { width: 96, height: 72 }], // never upscaled
    ];
    for (const [size, expected] of cases) {
      const res = await segment(`?format=json&size=${size}`);
      const body = JSON.parse(res.body.toString());
      assert.deepEqual(body.inferenceSize, expected, `size=${size}`);
      assert.deepEqual([body.width, body.height], [96, 72]);
    }
  });

  it('accepts application/octet-stream, JPEG, and multipart field "image" with identical results', async () => {
    const raw = await segment('?format=trainIds', png, 'application/octet-stream');
    assert.deepEqual((await decodeRaw(raw.body)).data, trainIds);

    const form = await request(app.server)
      .post('/v1/segment?format=trainIds')
      .field('note', 'ignored')
      .attach('image', png, { filename: 'street.png', contentType: 'image/png' })
      .buffer(true)
      .parse(binary);
    assert.equal(form.status, 200);
    assert.deepEqual((await decodeRaw(form.body)).data, trainIds);

    const jpeg = await segment('?format=json', await encodeImage(80, 40, 1, 'jpeg'), 'image/jpeg');
    assert.equal(jpeg.status, 200);
    assert.deepEqual(JSON.parse(jpeg.body.toString()).inferenceSize, { width: 64, height: 32 });
  });

  describe('errors are problem+json with the documented status', () => {
    const problemOf = (res: request.Response) => {
      assert.match(res.headers['content-type'], /^application\/problem\+json/);
      const body = JSON.parse(res.body.toString());
      assert.equal(body.status, res.status);
      assert.match(body.type, /^urn:cityseg:problem:/);
      assert.equal(typeof body.title, 'string');
      return body as { type: string; detail: string };
    };

    const badQueries: [string, RegExp][] = [
      ['?format=bogus', /querystring\/format must be one of: labelIds, trainIds, color, colorPalette, overlay, json/],
      ['?size=16', /querystring\/size/],
      ['?size=4097', /querystring\/size/],
      ['?size=big', /querystring\/size/],
      ['?alpha=1.5', /querystring\/alpha must be <= 1/],
      ['?overlayFormat=gif', /querystring\/overlayFormat/],
      ['?rle=maybe', /querystring\/rle must be boolean/],
      ['?format=color&rle=true', /rle applies to format=json only/],
      ['?fromat=json', /querystring\/fromat is not a parameter of this route/],
    ];
    for (const [query, detail] of badQueries) {
      it(`400 for ${query}`, async () => {
        const res = await segment(query);
        assert.equal(res.status, 400);
        assert.match(problemOf(res).detail, detail);
      });
    }

    it('404 for ?model=nope, listing the models', async () => {
      const res = await segment('?model=nope');
      assert.equal(res.status, 404);
      assert.equal(problemOf(res).type, 'urn:cityseg:problem:not-found');
      assert.match(problemOf(res).detail, /^unknown model "nope" \(served: lraspp_mobilenet_v3_large\)$/);
    });

    it('413 for a body over the body limit (raw and multipart)', async () => {
      const big = Buffer.alloc(BODY_LIMIT + 1, 7);
      const raw = await segment('', big);
      assert.equal(raw.status, 413);
      assert.equal(problemOf(raw).type, 'urn:cityseg:problem:payload-too-large');
      const form = await request(app.server)
        .post('/v1/segment')
        .attach('image', big, { filename: 'big.png', contentType: 'image/png' })
        .buffer(true)
        .parse(binary);
      assert.equal(form.status, 413);
      assert.equal(problemOf(form).type, 'urn:cityseg:problem:payload-too-large');
    });

    it('413 for an image over the pixel limit, naming its size', async () => {
      const flat = await sharp({ create: { width: 600, height: 500, channels: 3, background: '#808080' } }).png().toBuffer();
      assert.ok(flat.length < BODY_LIMIT);
      const res = await segment('', flat);
      assert.equal(res.status, 413);
      const problem = problemOf(res);
      assert.equal(problem.type, 'urn:cityseg:problem:image-too-large');
      assert.match(problem.detail, /600x500 = 300000 pixels, over the limit of 250000/);
    });

    it('media-type parameters and a literal image/* are accepted: the same mask; a 415 names the accepted types', async () => {
      const reference = await segment('?format=trainIds');
      for (const type of ['image/png; charset=binary', 'image/png; name="x.png"', 'image/*', 'IMAGE/PNG', 'application/octet-stream; x=1']) {
        const res = await segment('?format=trainIds', png, type);
        assert.equal(res.status, 200, type);
        assert.deepEqual(res.body, reference.body, type);
      }
      const refused = await segment('', png, 'video/mp4');
      assert.equal(refused.status, 415);
      assert.equal(problemOf(refused).detail, 'Content-Type "video/mp4": send image/*, application/octet-stream or multipart/form-data');
    });

    it('415 for JSON, text, or bytes that are no image format', async () => {
      for (const [type, body] of [
        ['application/json', Buffer.from('{"image":"x"}')],
        ['text/plain', Buffer.from('hello')],
        ['image/png', Buffer.from('definitely not an image, just some text bytes')],
      ] as const) {
        const res = await segment('', body, type);
        assert.equal(res.status, 415, type);
        assert.equal(problemOf(res).type, 'urn:cityseg:problem:unsupported-media-type');
      }
    });

    it('a BMP (PIL-made, 13x7) is segmented: a mask of its size; a 16-bit BMP is a 415 naming the variant', async () => {
      const bmp = readFileSync(fileURLToPath(new URL('./fixtures/bmp/rgb24.bmp', import.meta.url)));
      for (const type of ['image/bmp', 'application/octet-stream']) {
        const res = await segment('?format=labelIds', bmp, type);
        assert.equal(res.status, 200, type);
        assert.deepEqual([res.headers['x-mask-width'], res.headers['x-mask-height']], ['13', '7']);
      }
      const sixteen = Buffer.alloc(14 + 40 + 32);
      sixteen.write('BM', 0, 'latin1');
      sixteen.writeUInt32LE(54, 10);
      sixteen.writeUInt32LE(40, 14);
      sixteen.writeInt32LE(4, 18);
      sixteen.writeInt32LE(4, 22);
      sixteen.writeUInt16LE(16, 28);
      const res = await segment('', sixteen, 'image/bmp');
      assert.equal(res.status, 415);
      assert.match(problemOf(res).detail, /bmp: 16 bits per pixel/);
    });

    it('422 for an RLE8 BMP whose runs end every line until they leave the image, naming where', async () => {
      const res = await segment('', rle8File(64, 64, endEveryLine(150_000)), 'image/bmp');
      assert.equal(res.status, 422);
      assert.equal(problemOf(res).type, 'urn:cityseg:problem:unprocessable-image');
      assert.match(problemOf(res).detail, /bmp: RLE run at byte 256 runs past the declared 64x64 image/);
    });

    it('422 for a truncated image', async () => {
      const photo = await encodeImage(96, 72, 5, 'jpeg');
      for (const truncated of [png.subarray(0, Math.floor(png.length / 2)), photo.subarray(0, Math.floor(photo.length / 2))]) {
        const res = await segment('', truncated);
        assert.equal(res.status, 422);
        assert.equal(problemOf(res).type, 'urn:cityseg:problem:unprocessable-image');
      }
    });

    it('422 for an empty body, with or without a content type', async () => {
      const typed = await segment('', Buffer.alloc(0));
      assert.equal(typed.status, 422);
      assert.equal(problemOf(typed).type, 'urn:cityseg:problem:empty-body');
      const bare = await request(app.server).post('/v1/segment').buffer(true).parse(binary);
      assert.equal(bare.status, 422);
      assert.equal(problemOf(bare).type, 'urn:cityseg:problem:empty-body');
    });

    it('400 for a multipart body without the "image" field', async () => {
      const res = await request(app.server)
        .post('/v1/segment')
        .attach('picture', png, { filename: 'a.png', contentType: 'image/png' })
        .buffer(true)
        .parse(binary);
      assert.equal(res.status, 400);
      assert.match(problemOf(res).detail, /multipart body has no part "image" \(found file parts: picture\)/);
    });

    it('the server still answers after all of the above', async () => {
      const res = await segment('?format=trainIds');
      assert.equal(res.status, 200);
      assert.deepEqual((await decodeRaw(res.body)).data, trainIds);
    });
  });
});
