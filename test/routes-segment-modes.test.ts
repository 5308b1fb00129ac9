/** POST /v1/segment with the inference modes: mode, crop, stride, scales, flip. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import request from 'supertest';
import { appWithDefaultModels, decodeRaw, encodeImage, testConfig } from './server-helpers.js';

function binary(res: request.Response, done: (err: Error | null, body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (chunk: Buffer) => chunks.push(chunk));
  res.on('end', () => done(null, Buffer.concat(chunks)));
}

describe('POST /v1/segment inference modes', () => {
  let app: FastifyInstance;
  let png: Buffer; // 96x72

  const segment = (query: string) =>
    request(app.server).post(`/v1/segment${query}`).set('content-type', 'image/png').buffer(true).parse(binary).send(png);
  const json = async (query: string) => {
    const res = await segment(query);
    return { status: res.status, type: res.headers['content-type'], body: JSON.parse(res.body.toString()) };
  };

  before(async () => {
    app = await appWithDefaultModels(testConfig({ CITYSEG_CLASSIFIER_ARCH: 'none' }));
    png = await encodeImage(96, 72, 5);
  });
  after(() => app.close());

  it('mode=slide: json reports the mode, the windows and the forward passes; the mask has the image size', async () => {
    const { status, body } = await json('?format=json&mode=slide&crop=32x48&stride=24x40&size=native');
    assert.equal(status, 200);
    // Rows: (72-32+23)//24+1 = 3 windows; columns: (96-48+39)//40+1 = 3.
    assert.deepEqual(body.inference, { mode: 'slide', crop: { height: 32, width: 48 }, stride: { height: 24, width: 40 }, scales: [1], flip: false, forwardPasses: 9 });
    assert.deepEqual([body.width, body.height], [96, 72]);
    assert.equal(body.classes.reduce((n: number, c: { pixels: number }) => n + c.pixels, 0), 96 * 72);
    for (const key of ['decodeMs', 'preprocessMs', 'inferenceMs', 'postprocessMs', 'totalMs']) assert.equal(typeof body.timings[key], 'number', key);
  });

  it('a crop larger than the image is one window, whose mask equals the whole pass at native size', async () => {
    const slide = await segment('?format=trainIds&mode=slide&crop=512x1024&size=native');
    const whole = await segment('?format=trainIds&size=native');
    assert.equal(slide.status, 200);
    assert.deepEqual((await decodeRaw(slide.body)).data, (await decodeRaw(whole.body)).data);
  });

  it('scales and flip: one pass per scale and flip', async () => {
    const { status, body } = await json('?format=json&scales=0.5,1&flip=true');
    assert.equal(status, 200);
    assert.deepEqual(body.inference, { mode: 'whole', scales: [0.5, 1], flip: true, forwardPasses: 4 });
  });

  it('without mode parameters the JSON reports one whole pass, as the CLI does', async () => {
    const { body } = await json('?format=json');
    assert.deepEqual(body.inference, { mode: 'whole', scales: [1], flip: false, forwardPasses: 1 });
  });

  const refused: [string, RegExp][] = [
    ['?mode=slide&stride=0x5', /^querystring\/stride must be positive whole pixels, got 0x5$/],
    ['?mode=slide&crop=64x64&stride=65x32', /^querystring\/stride 65x32 is larger than the crop 64x64/],
    ['?mode=slide&crop=abc', /querystring\/crop must match pattern/],
    ['?mode=slide&stride=-3x4', /querystring\/stride must match pattern/],
    ['?scales=0,1', /^querystring\/scales must be ratios in \(0, 8\], got 0$/],
    ['?mode=tile', /querystring\/mode must be one of: whole, slide/],
    ['?mode=slide&crop=8x8&stride=8x8&size=native', /needs 108 forward passes, more than the cap of 64/],
  ];
  for (const [query, detail] of refused) {
    it(`400 naming the parameter: ${query}`, async () => {
      const { status, type, body } = await json(`${query}&format=json`);
      assert.equal(status, 400);
      assert.match(type, /^application\/problem\+json/);
      assert.match(body.detail, detail);
    });
  }

  it('still serves after refusing', async () => {
    assert.equal((await segment('?format=trainIds&mode=slide&crop=48x64&stride=24x32')).status, 200);
  });
});
