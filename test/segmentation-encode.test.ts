import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { blendOverlay, encodeColor, encodeColorPalette, encodeLabelIds, encodeOverlay, encodeTrainIds } from '../segmentation/encode.js';
import { encodeOutput, OUTPUT_FORMAT_NAMES, OUTPUT_FORMATS } from '../segmentation/output-formats.js';
import { InvalidArgumentError, ShapeError } from '../segmentation/errors.js';
import { cityscapes, voc } from '../segmentation/labels/index.js';
import type { ClassMap } from '../segmentation/types.js';
import { makeImage, readPng } from './segmentation-helpers.js';

/** 97x131 (odd sizes): trainId = (x + 2y) mod 20, with 19 standing for the ignore value 255. */
const W = 97;
const H = 131;
const trainIdAt = (x: number, y: number) => ((x + 2 * y) % 20 === 19 ? 255 : (x + 2 * y) % 20);
const map: ClassMap = { data: Uint8Array.from({ length: W * H }, (_, p) => trainIdAt(p % W, Math.floor(p / W))), width: W, height: H };

// Official Cityscapes ids and colours by trainId (labels.py), written out independently of the table.
const CITYSCAPES_ID = [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33];
const CITYSCAPES_COLOR = [
  [128, 64, 128], [244, 35, 232], [70, 70, 70], [102, 102, 156], [190, 153, 153], [153, 153, 153], [250, 170, 30],
  [220, 220, 0], [107, 142, 35], [152, 251, 152], [70, 130, 180], [220, 20, 60], [255, 0, 0], [0, 0, 142],
  [0, 0, 70], [0, 60, 100], [0, 80, 100], [0, 0, 230], [119, 11, 32],
];

describe('mask encoders (Cityscapes, 97x131 map with every trainId and 255)', () => {
  it('labelIds: 8-bit grey PNG of Cityscapes label ids; 255 → 0 (unlabeled)', async () => {
    const png = readPng(await encodeLabelIds(map, cityscapes));
    assert.deepEqual([png.width, png.height, png.channels, png.depth], [W, H, 1, 8]);
    assert.deepEqual(png.data, Array.from(map.data, (k) => (k === 255 ? 0 : CITYSCAPES_ID[k])));
    // Spot checks: (0,0) road → 7; (5,1) trainId 7 traffic sign → 20; (1,9) → 19 → ignore → 0.
    assert.deepEqual([png.data[0], png.data[W + 5], png.data[9 * W + 1]], [7, 20, 0]);
  });

  it('trainIds: 8-bit grey PNG of the indices, 255 kept', async () => {
    const png = readPng(await encodeTrainIds(map));
    assert.deepEqual([png.width, png.height, png.channels, png.depth], [W, H, 1, 8]);
    assert.deepEqual(png.data, Array.from(map.data));
  });

  it('color: RGB PNG in the official colours; 255 → black', async () => {
    const png = readPng(await encodeColor(map, cityscapes));
    assert.deepEqual([png.width, png.height, png.channels, png.depth], [W, H, 3, 8]);
    const expected = Array.from(map.data).flatMap((k) => (k === 255 ? [0, 0, 0] : CITYSCAPES_COLOR[k]));
    assert.deepEqual(png.data, expected);
  });

  it('colorPalette: indexed PNG, pixel = trainId, palette entry i = class i colour', async () => {
    const bytes = encodeColorPalette(map, cityscapes);
    const png = readPng(bytes);
    assert.deepEqual([png.width, png.height, png.channels, png.depth], [W, H, 1, 8]);
    assert.deepEqual(png.data, Array.from(map.data));
    // 256 entries because 255 occurs: 0..18 the class colours, the rest black.
    assert.equal(png.palette?.length, 256);
    assert.deepEqual(png.palette?.slice(0, 19), CITYSCAPES_COLOR);
    assert.deepEqual(png.palette?.[255], [0, 0, 0]);
    // Viewers (here libvips) see the colours.
    const rgb = await sharp(bytes).raw().toBuffer();
    assert.deepEqual([rgb[0], rgb[1], rgb[2]], [128, 64, 128]);
  });

  it('colorPalette without out-of-set values has one entry per class (VOC: 21)', () => {
    const small: ClassMap = { data: Uint8Array.from([0, 15, 20, 1]), width: 2, height: 2 };
    const png = readPng(encodeColorPalette(small, voc));
    assert.equal(png.palette?.length, 21);
    assert.deepEqual(png.palette?.[15], [192, 128, 128]);
    assert.deepEqual(png.data, [0, 15, 20, 1]);
  });

  it('the output table names each format, with its content type and file suffix', async () => {
    assert.deepEqual(OUTPUT_FORMAT_NAMES, ['labelIds', 'trainIds', 'color', 'colorPalette', 'overlay', 'json']);
    const files = OUTPUT_FORMAT_NAMES.flatMap((name) =>
      (['jpeg', 'png'] as const).map((overlayFormat) => [name, OUTPUT_FORMATS[name].contentType({ overlayFormat }), OUTPUT_FORMATS[name].suffix({ overlayFormat })].join(' ')),
    );
    assert.deepEqual([...new Set(files)], [
      'labelIds image/png _labelIds.png',
      'trainIds image/png _trainIds.png',
      'color image/png _color.png',
      'colorPalette image/png _colorPalette.png',
      'overlay image/jpeg _overlay.jpg',
      'overlay image/png _overlay.png',
      'json application/json .json',
    ]);
    const image = makeImage(W, H, () => [0, 0, 0]);
    const result = { image, classMap: map, inferenceSize: { width: W, height: H }, timings: { decodeMs: 1, preprocessMs: 2, inferenceMs: 3, postprocessMs: 4 } };
    const opts = { labelSet: cityscapes, modelId: 'm', alpha: 0.5, overlayFormat: 'png' as const, rle: false };
    const viaTable = readPng((await encodeOutput('colorPalette', result, opts)).body);
    assert.deepEqual(viaTable.data, Array.from(map.data));
    const json = await encodeOutput('json', result, { ...opts, totalMs: 12 });
    assert.equal(json.contentType, 'application/json');
    const body = JSON.parse(json.body.toString()) as { model: string; timings: Record<string, number>; classes: unknown[] };
    assert.equal(body.model, 'm');
    assert.deepEqual(body.timings, { decodeMs: 1, preprocessMs: 2, inferenceMs: 3, postprocessMs: 4, totalMs: 12 });
  });
});

describe('overlay', () => {
  const image = makeImage(W, H, (x, y) => [x * 2, y, 100]);

  it('blends round((1 - a) * pixel + a * colour); out-of-set pixels stay as they were', () => {
    const out = blendOverlay(image, map, cityscapes, 0.25);
    // (0,0): pixel (0,0,100), road (128,64,128) → (32, 16, 107).
    assert.deepEqual(Array.from(out.data.subarray(0, 3)), [32, 16, 107]);
    // (1,9): trainId 255 → unchanged (2, 9, 100).
    const i = (9 * W + 1) * 3;
    assert.deepEqual(Array.from(out.data.subarray(i, i + 3)), [2, 9, 100]);
    for (let p = 0; p < W * H; p++) {
      const k = map.data[p];
      for (let ch = 0; ch < 3; ch++) {
        const v = image.data[p * 3 + ch];
        const expected = k === 255 ? v : Math.round(0.75 * v + 0.25 * CITYSCAPES_COLOR[k][ch]);
        assert.equal(out.data[p * 3 + ch], expected);
      }
    }
  });

  it('blends every pixel value 0..255 of every class with the formula, at alphas whose products round both ways', () => {
    // 20 rows (19 classes and 255) x 256 columns; channel c of column v holds (v + 85c) mod 256.
    const every = makeImage(256, 20, (x, _y) => [x, (x + 85) % 256, (x + 170) % 256]);
    const classes: ClassMap = { data: Uint8Array.from({ length: 256 * 20 }, (_, p) => (Math.floor(p / 256) === 19 ? 255 : Math.floor(p / 256))), width: 256, height: 20 };
    for (const alpha of [0.3, 0.5, 0.7, 0.123]) {
      const out = blendOverlay(every, classes, cityscapes, alpha);
      for (let p = 0; p < 256 * 20; p++) {
        const k = classes.data[p];
        for (let ch = 0; ch < 3; ch++) {
          const v = every.data[p * 3 + ch];
          const expected = k === 255 ? v : Math.round((1 - alpha) * v + alpha * CITYSCAPES_COLOR[k][ch]);
          assert.equal(out.data[p * 3 + ch], expected, `alpha ${alpha}, class ${k}, channel ${ch}, value ${v}`);
        }
      }
    }
  });

  it('alpha 0 is the image, alpha 1 the colour mask; default 0.5', async () => {
    assert.deepEqual(blendOverlay(image, map, cityscapes, 0).data, image.data);
    const full = blendOverlay(image, map, cityscapes, 1);
    assert.deepEqual(Array.from(full.data.subarray(0, 3)), [128, 64, 128]);
    const png = readPng(await encodeOverlay(image, map, cityscapes));
    // (0,0) at 0.5: (0 + 128) / 2 = 64, (0 + 64) / 2 = 32, (100 + 128) / 2 = 114.
    assert.deepEqual(png.data.slice(0, 3), [64, 32, 114]);
    assert.deepEqual(png.data, Array.from(blendOverlay(image, map, cityscapes, 0.5).data));
  });

  it('JPEG output has the image size', async () => {
    const jpeg = await encodeOverlay(image, map, cityscapes, { format: 'jpeg', alpha: 0.4 });
    const meta = await sharp(jpeg).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', W, H]);
  });

  it('refuses a bad alpha and mismatched sizes', () => {
    assert.throws(() => blendOverlay(image, map, cityscapes, 1.5), InvalidArgumentError);
    assert.throws(() => blendOverlay(makeImage(W, H + 1, () => [0, 0, 0]), map, cityscapes), /image is 97x132 but class map is 97x131/);
    assert.throws(() => encodeColorPalette({ data: new Uint8Array(3), width: 2, height: 2 }, voc), ShapeError);
  });
});
