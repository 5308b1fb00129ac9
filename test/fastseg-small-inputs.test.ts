/**
 * fastseg's networks need 385 px a side (its 49x49 gate pool over the stride-8 map): smaller images are enlarged to
 * that for inference, masks still at the image's size; an explicit size or a slide crop / scale that cannot reach it
 * is a 400 (HTTP) or an error exit (CLI) naming the minimum, before any work.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { FASTSEG_MIN_INPUT_SIDE } from '../model/fastseg.js';
import { inferenceDims } from '../segmentation/preprocess.js';
import { readPixels, runCli, tempDir } from './cli-helpers.js';
import { appWithDefaultModels, encodeImage, testConfig } from './server-helpers.js';

const FASTSEG = { CITYSEG_ARCH: 'fastseg_mobilev3_large' };

describe('the inference-size policy with a minimum side', () => {
  it('is 385 for fastseg: ceil(385 / 8) = 49, the gate pool\'s window', () => {
    assert.equal(FASTSEG_MIN_INPUT_SIDE, 385);
  });

  it('enlarges the short side to the minimum, keeps larger sizes, refuses sizes below it', () => {
    assert.deepEqual(inferenceDims(320, 240, 1024, 385), { width: 514, height: 385 });
    // 1024x341 by the long side, then enlarged: ceil(1024 * 385 / 341) = 1157.
    assert.deepEqual(inferenceDims(1200, 400, 1024, 385), { width: 1157, height: 385 });
    assert.deepEqual(inferenceDims(240, 320, 'native', 385), { width: 385, height: 514 });
    assert.deepEqual(inferenceDims(2048, 1024, 1024, 385), { width: 1024, height: 512 });
    assert.deepEqual(inferenceDims(320, 240, 1024), { width: 320, height: 240 });
    assert.throws(() => inferenceDims(2048, 1024, 256, 385), /inference size 256 is below this model's minimum of 385 pixels a side/);
  });
});

describe('fastseg over HTTP: a 320x240 photo and a 3:1 panorama', () => {
  let app: FastifyInstance;
  let small: Buffer;
  let panorama: Buffer;

  before(async () => {
    app = await appWithDefaultModels(testConfig({ ...FASTSEG, CITYSEG_INFERENCE_SIZE: '1024', CITYSEG_CLASSIFIER_ARCH: 'none' }));
    small = await encodeImage(320, 240, 3);
    panorama = await encodeImage(1200, 400, 4);
  });
  after(() => app.close());

  const segment = (png: Buffer, query: string) =>
    app.inject({ method: 'POST', url: `/v1/segment${query}`, payload: png, headers: { 'content-type': 'image/png' } });

  for (const [name, width, height, inference] of [['320x240', 320, 240, { width: 514, height: 385 }], ['1200x400', 1200, 400, { width: 1157, height: 385 }]] as const) {
    it(`/v1/segment ${name}: runs at ${inference.width}x${inference.height}, answers at ${name}`, async () => {
      const res = await segment(name === '320x240' ? small : panorama, '?format=json');
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.model, 'fastseg_mobilev3_large');
      assert.deepEqual([body.width, body.height], [width, height]);
      assert.deepEqual(body.inferenceSize, inference);
      assert.equal(body.classes.reduce((n: number, c: { pixels: number }) => n + c.pixels, 0), width * height);
    });
  }

  const refused: [string, RegExp][] = [
    ['?size=256', /inference size 256 is below this model's minimum of 385 pixels a side/],
    ['?mode=slide&crop=256x256&stride=200x200', /mode=slide with crop 256x256 at scale 1 runs a 256x256 forward pass, under this model's minimum of 385 pixels a side/],
    ['?scales=0.5,1', /scale 0\.5 runs a 257x193 forward pass, under this model's minimum of 385/],
  ];
  for (const [query, detail] of refused) {
    it(`/v1/segment${query}: 400 problem naming the minimum`, async () => {
      const res = await segment(small, query);
      assert.equal(res.statusCode, 400, res.body);
      assert.match(res.headers['content-type'] as string, /^application\/problem\+json/);
      assert.match(res.json().detail, detail);
    });
  }

  it('slide with crops of the minimum or more works on the panorama', async () => {
    const res = await segment(panorama, '?format=json&mode=slide&crop=385x600&stride=385x400');
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual([res.json().width, res.json().height], [1200, 400]);
  });

  it('/v2 infer on the 320x240 photo: class_ids at 240x320', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v2/models/fastseg_mobilev3_large/infer',
      payload: { inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [small.toString('base64')] }] },
    });
    assert.equal(res.statusCode, 200, res.body);
    const [classIds] = res.json().outputs;
    assert.deepEqual([classIds.name, classIds.shape], ['class_ids', [240, 320]]);
    assert.equal(classIds.data.length, 240 * 320);
  });
});

describe('fastseg in the compiled CLI: small images', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ dir, cleanup } = await tempDir('cityseg-fastseg-small-'));
    await writeFile(path.join(dir, 'small.png'), await encodeImage(320, 240, 3));
    await writeFile(path.join(dir, 'pano.png'), await encodeImage(1200, 400, 4));
  });
  after(() => cleanup());

  it('segment: masks at each image\'s own size', async () => {
    const out = path.join(dir, 'out');
    const run = await runCli(['segment', '--format', 'trainIds', '--out', out, path.join(dir, 'small.png'), path.join(dir, 'pano.png')], FASTSEG);
    assert.equal(run.code, 0, run.stderr);
    const masks = await Promise.all(['small', 'pano'].map((stem) => readPixels(path.join(out, `${stem}_trainIds.png`))));
    assert.deepEqual(masks.map((m) => [m.width, m.height]), [[320, 240], [1200, 400]]);
  });

  it('segment --size 256: an error naming the minimum, nothing written', async () => {
    const out = path.join(dir, 'refused');
    const run = await runCli(['segment', '--size', '256', '--out', out, path.join(dir, 'small.png')], FASTSEG);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /minimum of 385 pixels a side/);
  });
});
