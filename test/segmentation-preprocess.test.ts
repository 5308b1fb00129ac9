import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IMAGENET1K_V1_TRANSFORM } from '../model/descriptor.js';
import { InvalidArgumentError } from '../segmentation/errors.js';
import {
  centreCropOffsets,
  classificationCrop,
  classificationInput,
  inferenceDims,
  normalizeImageNet,
  parseInferenceSize,
  resizeForInference,
  shortSideResizeDims,
} from '../segmentation/preprocess.js';
import { makeImage, pixel } from './segmentation-helpers.js';

describe('size policy', () => {
  it('scales the long side to the target and rounds the short side', () => {
    assert.deepEqual(inferenceDims(2048, 1024, 1024), { width: 1024, height: 512 });
    // 97 * 64 / 131 = 47.39 → 47
    assert.deepEqual(inferenceDims(97, 131, 64), { width: 47, height: 64 });
    // 1000 * 512 / 1500 = 341.33 → 341 (portrait: height is the long side)
    assert.deepEqual(inferenceDims(1000, 1500, 512), { width: 341, height: 512 });
    // a sliver keeps at least one pixel: 1 * 10 / 1000 = 0.01 → 1
    assert.deepEqual(inferenceDims(1, 1000, 10), { width: 1, height: 10 });
  });

  it('never upscales, and native keeps the size', () => {
    assert.deepEqual(inferenceDims(500, 300, 1024), { width: 500, height: 300 });
    assert.deepEqual(inferenceDims(1024, 700, 1024), { width: 1024, height: 700 });
    assert.deepEqual(inferenceDims(4000, 3000, 'native'), { width: 4000, height: 3000 });
  });

  it('refuses sizes that are not positive integers', () => {
    for (const bad of [0, -5, 1.5, Number.NaN]) assert.throws(() => inferenceDims(10, 10, bad), InvalidArgumentError);
    assert.equal(parseInferenceSize('native'), 'native');
    assert.equal(parseInferenceSize('512'), 512);
    assert.throws(() => parseInferenceSize('big'), /positive integer or 'native', got NaN/);
  });
});

describe('resizeForInference', () => {
  it('returns the same image when no resize is needed', async () => {
    const img = makeImage(30, 20, () => [1, 2, 3]);
    assert.equal(await resizeForInference(img, 64), img);
    assert.equal(await resizeForInference(img, 'native'), img);
  });

  it('resizes to the policy size; flat regions keep their exact colour', async () => {
    // 200x100, left half (x < 100) black, right half white → 100x50: the boundary lands at x = 50.
    const img = makeImage(200, 100, (x) => (x < 100 ? [0, 0, 0] : [255, 255, 255]));
    const out = await resizeForInference(img, 100);
    assert.deepEqual([out.width, out.height], [100, 50]);
    for (const y of [0, 25, 49]) {
      for (const x of [0, 20, 47]) assert.deepEqual(pixel(out, x, y), [0, 0, 0]);
      for (const x of [52, 80, 99]) assert.deepEqual(pixel(out, x, y), [255, 255, 255]);
    }
  });
});

describe('normalizeImageNet', () => {
  it('NHWC [1,H,W,3], (x/255 - mean) / std per channel', () => {
    const img = makeImage(3, 2, (x, y) => [x * 100, y * 255, 128]);
    const t = normalizeImageNet(img);
    assert.deepEqual(t.shape, [1, 2, 3, 3]);
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    for (let i = 0; i < 18; i++) {
      const expected = (img.data[i] / 255 - mean[i % 3]) / std[i % 3];
      assert.ok(Math.abs(t.data[i] - expected) < 1e-6, `value ${i}: ${t.data[i]} vs ${expected}`);
    }
    // Spot values: red 0 → -0.485/0.229, green 255 → 0.544/0.224, blue 128 → (128/255-0.406)/0.225.
    assert.ok(Math.abs(t.data[0] - -2.1179039) < 1e-6);
    assert.ok(Math.abs(t.data[3 * 3 + 1] - 2.4285715) < 1e-6);
    assert.ok(Math.abs(t.data[2] - 0.4264924) < 1e-6);
  });

  it('refuses an image whose data does not match its size', () => {
    assert.throws(() => normalizeImageNet({ data: new Uint8Array(5), width: 2, height: 1 }), /needs 6 bytes, has 5/);
  });
});

describe("classificationInput (the weights' Resize(256 or 232) + CenterCrop(224))", () => {
  it('short side to 256, long side truncated like int()', () => {
    // 500 * 256 / 375 = 341.33 → 341; 375 * 256 / 500 = 192 exactly; 300 * 256 / 299 = 256.86 → 256
    assert.deepEqual(shortSideResizeDims(500, 375, 256), { width: 341, height: 256 });
    assert.deepEqual(shortSideResizeDims(375, 500, 256), { width: 256, height: 341 });
    assert.deepEqual(shortSideResizeDims(300, 299, 256), { width: 256, height: 256 });
  });

  it("centre-crop offsets use Python's round (halves to even)", () => {
    // (341 - 224) / 2 = 58.5 → 58; (343 - 224) / 2 = 59.5 → 60; (256 - 224) / 2 = 16
    assert.deepEqual(centreCropOffsets(341, 256, 224), { left: 58, top: 16 });
    assert.deepEqual(centreCropOffsets(343, 256, 224), { left: 60, top: 16 });
  });

  it('crops the centre 224x224 of the resized image, at 256 (V1) and 232 (V2)', async () => {
    // 500x375, red for x < 250, blue beyond: resized to 341x256 the edge is at x = 170.5, which the crop (left 58)
    // moves to x = 112.5; resized to 309x232 (V2) it is at 154.5, which the crop (left 42) moves to 112.5 too.
    const img = makeImage(500, 375, (x) => (x < 250 ? [255, 0, 0] : [0, 0, 255]));
    for (const transform of [IMAGENET1K_V1_TRANSFORM, { resizeShortSide: 232, cropSize: 224 }]) {
      const crop = await classificationCrop(img, transform);
      assert.deepEqual([crop.width, crop.height], [224, 224]);
      for (const y of [0, 100, 223]) {
        assert.deepEqual(pixel(crop, 0, y), [255, 0, 0]);
        assert.deepEqual(pixel(crop, 110, y), [255, 0, 0]);
        assert.deepEqual(pixel(crop, 115, y), [0, 0, 255]);
        assert.deepEqual(pixel(crop, 223, y), [0, 0, 255]);
      }
    }
    // A transform's crop size is the input's side.
    assert.deepEqual((await classificationInput(img, { resizeShortSide: 160, cropSize: 128 })).shape, [1, 128, 128, 3]);
    const t = await classificationInput(img, IMAGENET1K_V1_TRANSFORM);
    assert.deepEqual(t.shape, [1, 224, 224, 3]);
    assert.ok(Math.abs(t.data[0] - (1 - 0.485) / 0.229) < 1e-6);
    assert.ok(Math.abs(t.data[223 * 3 + 2] - (1 - 0.406) / 0.225) < 1e-6);
  });
});
