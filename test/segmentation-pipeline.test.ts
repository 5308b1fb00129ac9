import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { IMAGENET1K_V1_TRANSFORM } from '../model/descriptor.js';
import type { Float32Tensor, InferenceEngine } from '../model/engines/engine.js';
import { encodeColor, encodeColorPalette, encodeLabelIds, encodeTrainIds } from '../segmentation/encode.js';
import { ImageDecodeError, ImageTooLargeError, ShapeError } from '../segmentation/errors.js';
import { cityscapes } from '../segmentation/labels/index.js';
import { softmax, upsampleArgmax } from '../segmentation/postprocess.js';
import { classifyImage, segmentImage } from '../segmentation/pipeline.js';
import { IMAGENET_MEAN, IMAGENET_STD } from '../segmentation/preprocess.js';
import { classStats } from '../segmentation/stats.js';
import { makeImage, pngOf, readPng, sharpOf, type Rgb } from './segmentation-helpers.js';

/** Undo ImageNet normalisation of one input pixel → 8-bit RGB. */
function pixelOf(input: Float32Tensor, p: number): Rgb {
  return [0, 1, 2].map((ch) => Math.round((input.data[p * 3 + ch] * IMAGENET_STD[ch] + IMAGENET_MEAN[ch]) * 255)) as Rgb;
}

/**
 * A deterministic stand-in for the network, at stride 1: each pixel's logits are 1 for the
 * Cityscapes class whose official colour is nearest to the pixel, 0 for the others.
 */
class ColourKeyEngine implements InferenceEngine {
  readonly engine = 'tfjs' as const;
  readonly backend = 'test-colour-key';
  inputs: number[][] = [];
  async run(input: Float32Tensor): Promise<Float32Tensor> {
    this.inputs.push(input.shape);
    const [, h, w] = input.shape;
    const c = cityscapes.classes.length;
    const out = new Float32Array(h * w * c);
    for (let p = 0; p < h * w; p++) {
      const rgb = pixelOf(input, p);
      const dist = cityscapes.classes.map((k) => k.color.reduce((s, v, ch) => s + (v - rgb[ch]) ** 2, 0));
      out[p * c + dist.indexOf(Math.min(...dist))] = 1;
    }
    return { data: out, shape: [1, h, w, c] };
  }
  dispose(): void {}
}

/** Returns fixed logits whatever the input, recording the input shapes it was given. */
class FixedLogitsEngine implements InferenceEngine {
  readonly engine = 'onnx' as const;
  readonly backend = 'test-fixed';
  inputs: number[][] = [];
  private readonly logits: Float32Tensor;
  constructor(logits: Float32Tensor) {
    this.logits = logits;
  }
  async run(input: Float32Tensor): Promise<Float32Tensor> {
    this.inputs.push(input.shape);
    return this.logits;
  }
  dispose(): void {}
}

const ROAD = 0;
const SKY = 10;
const CAR = 13;
const VEGETATION = 8;
const colourOf = (k: number) => cityscapes.classes[k].color;

/** 97 wide, 131 high: columns 0..29 road, 30..59 car, 60..96 sky, except rows 100.. vegetation. */
const bandClass = (x: number, y: number) => (y >= 100 ? VEGETATION : x < 30 ? ROAD : x < 60 ? CAR : SKY);
const bands = makeImage(97, 131, (x, y) => colourOf(bandClass(x, y)));
const LIMIT = { maxPixels: 10_000_000 };

describe('segmentImage end to end with a colour-key engine', () => {
  it('97x131 PNG at native size: exact trainIds, label ids, colours, palette and RLE', async () => {
    const engine = new ColourKeyEngine();
    const result = await segmentImage(engine, await pngOf(bands), { size: 'native', ...LIMIT });
    assert.deepEqual(engine.inputs, [[1, 131, 97, 3]]);
    assert.deepEqual(result.inferenceSize, { width: 97, height: 131 });
    const { classMap } = result;
    assert.deepEqual([classMap.width, classMap.height], [97, 131]);
    const expected = Array.from({ length: 97 * 131 }, (_, p) => bandClass(p % 97, Math.floor(p / 97)));
    assert.deepEqual(Array.from(classMap.data), expected);

    // trainIds PNG: the indices; labelIds PNG: road 7, car 26, sky 23, vegetation 21.
    assert.deepEqual(readPng(await encodeTrainIds(classMap)).data, expected);
    const ids = readPng(await encodeLabelIds(classMap, cityscapes)).data;
    assert.deepEqual([ids[0], ids[40], ids[96], ids[100 * 97]], [7, 26, 23, 21]);
    // The colour mask reproduces the input, which was painted in the official colours.
    assert.deepEqual(readPng(await encodeColor(classMap, cityscapes)).data, Array.from(bands.data));
    const palettePng = readPng(encodeColorPalette(classMap, cityscapes));
    assert.deepEqual(palettePng.palette?.[CAR], [0, 0, 142]);
    assert.deepEqual(palettePng.data, expected);

    // Car mask walked by columns: 30 columns x 131 of 0s, then 30 columns: rows 0..99 car, rows
    // 100..130 vegetation, so runs alternate 100 ones / 31 zeros; then 37 columns of 0s.
    // counts = [3930, 100, 31, 100, 31, ..., 100, 31 + 37 * 131 = 4878]. String:
    // 3930 = 26 + 32 * (26 + 32 * 3): groups 26 (bit 0x10 → continue, +0x20 = 58 → 'j'), 26 → 'j', 3 → '3'.
    // 100 = 4 + 32 * 3 → 36 → 'T', '3'. 31 (i = 2, no delta): 31 has bit 0x10, 31 >> 5 = 0 ≠ -1, so
    // continue: 63 → 'o', then 0 → '0'. From i = 3 the deltas 100 - 100 = 0 and 31 - 31 = 0 → '0'.
    // Last: 4878 - 31 = 4847 = 15 + 32 * (23 + 32 * 4): 15 → 47 → '_', 23 → 55 → 'g', 4 → '4'.
    const car = classStats(classMap, cityscapes, { rle: true }).find((s) => s.index === CAR);
    assert.equal(car?.pixels, 30 * 100);
    assert.equal(car?.rle?.counts, `jj3T3o0${'0'.repeat(2 * 29 - 1)}_g4`);
  });

  it('EXIF orientation 6 JPEG: the mask has the rotated size and the rotated content', async () => {
    // Stored 131 wide x 97 high; displayed (rotated 90° clockwise) as the 97x131 `bands` image.
    // A clockwise turn maps stored (x, y) to displayed (97 - 1 - y, x), so stored (x, y) holds
    // displayed pixel (96 - y, x).
    const stored = makeImage(131, 97, (x, y) => colourOf(bandClass(96 - y, x)));
    const jpeg = await sharpOf(stored).jpeg({ quality: 100, chromaSubsampling: '4:4:4' }).withMetadata({ orientation: 6 }).toBuffer();
    const meta = await sharp(jpeg).metadata();
    assert.deepEqual([meta.orientation, meta.width, meta.height], [6, 131, 97]);
    const { classMap, image } = await segmentImage(new ColourKeyEngine(), jpeg, { size: 'native', ...LIMIT });
    assert.deepEqual([image.width, image.height, classMap.width, classMap.height], [97, 131, 97, 131]);
    const expected = Array.from({ length: 97 * 131 }, (_, p) => bandClass(p % 97, Math.floor(p / 97)));
    assert.deepEqual(Array.from(classMap.data), expected);
  });

  it('with a size policy the engine sees the resized image and the mask comes back at full size', async () => {
    // 400x200 → long side 100 → 100x50. Fixed logits [1, 7, 13, 3] (stride 8 of 50x100) are
    // upsampled straight to 400x200.
    const logits: Float32Tensor = {
      data: Float32Array.from({ length: 7 * 13 * 3 }, (_, i) => Math.sin(i * 0.7) * 3),
      shape: [1, 7, 13, 3],
    };
    const engine = new FixedLogitsEngine(logits);
    const png = await pngOf(makeImage(400, 200, (x, y) => [x % 256, y, 7]));
    const result = await segmentImage(engine, png, { size: 100, ...LIMIT });
    assert.deepEqual(engine.inputs, [[1, 50, 100, 3]]);
    assert.deepEqual(result.inferenceSize, { width: 100, height: 50 });
    assert.deepEqual(result.classMap, upsampleArgmax(logits, 200, 400));
    for (const ms of Object.values(result.timings)) assert.ok(ms >= 0 && Number.isFinite(ms));
    assert.deepEqual(Object.keys(result.timings), ['decodeMs', 'preprocessMs', 'inferenceMs', 'postprocessMs', 'resizeMs', 'normalizeMs']);
    assert.equal(result.timings.preprocessMs, result.timings.resizeMs! + result.timings.normalizeMs!);
  });

  it('passes decode errors through and refuses engines returning the wrong rank', async () => {
    const engine = new FixedLogitsEngine({ data: new Float32Array(6), shape: [1, 6] });
    await assert.rejects(segmentImage(engine, Buffer.from('not an image'), { size: 64, ...LIMIT }), ImageDecodeError);
    await assert.rejects(segmentImage(engine, await pngOf(bands), { size: 64, maxPixels: 1000 }), ImageTooLargeError);
    await assert.rejects(segmentImage(engine, await pngOf(bands), { size: 64, ...LIMIT }), (err: unknown) => {
      assert.ok(err instanceof ShapeError);
      assert.match(err.message, /NHWC logits \[1, h, w, C\], got \[1, 6\]/);
      return true;
    });
  });
});

describe('classifyImage', () => {
  /** Logits = the mean normalised value of each channel over the 224x224 input, plus a constant. */
  class MeanColourEngine implements InferenceEngine {
    readonly engine = 'tfjs' as const;
    readonly backend = 'test-mean';
    inputs: number[][] = [];
    async run(input: Float32Tensor): Promise<Float32Tensor> {
      this.inputs.push(input.shape);
      const sums = [0, 0, 0];
      for (let i = 0; i < input.data.length; i++) sums[i % 3] += input.data[i];
      const n = input.data.length / 3;
      return { data: Float32Array.from([sums[0] / n, sums[1] / n, sums[2] / n, 0]), shape: [1, 4] };
    }
    dispose(): void {}
  }

  it("runs the weights' eval transform and returns softmax top-k with labels", async () => {
    const engine = new MeanColourEngine();
    // Flat (255, 0, 128): normalised (1 - .485)/.229 = 2.2489, (0 - .456)/.224 = -2.0357, (128/255 - .406)/.225 = 0.4265.
    const png = await pngOf(makeImage(300, 200, () => [255, 0, 128]));
    const labels = ['red', 'green', 'blue', 'none'];
    const result = await classifyImage(engine, png, { maxPixels: 1e6, topk: 3, labels, transform: IMAGENET1K_V1_TRANSFORM });
    await classifyImage(engine, png, { maxPixels: 1e6, topk: 3, labels, transform: { resizeShortSide: 232, cropSize: 200 } });
    assert.deepEqual(engine.inputs, [[1, 224, 224, 3], [1, 200, 200, 3]]);
    const logits = [(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (128 / 255 - 0.406) / 0.225, 0];
    const probs = softmax(logits);
    assert.deepEqual(result.top.map((t) => t.label), ['red', 'blue', 'none']);
    for (const t of result.top) assert.ok(Math.abs(t.probability - probs[t.index]) < 1e-6);
    // e^2.2489 = 9.4774, e^-2.0357 = 0.1306, e^0.4265 = 1.5319, e^0 = 1; sum 12.1398 → red 0.78068.
    assert.ok(Math.abs(result.top[0].probability - 0.78068) < 1e-5);
    assert.deepEqual([result.image.width, result.image.height], [300, 200]);
  });

  it('refuses a label list that does not match the classifier', async () => {
    const png = await pngOf(makeImage(8, 8, () => [1, 2, 3]));
    await assert.rejects(
      classifyImage(new MeanColourEngine(), png, { maxPixels: 1e6, topk: 1, labels: ['a', 'b'], transform: IMAGENET1K_V1_TRANSFORM }),
      /classifier outputs 4 classes but 2 labels were given/,
    );
  });
});
