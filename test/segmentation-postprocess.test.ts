import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { Float32Tensor } from '../model/engines/engine.js';
import { InvalidArgumentError, ShapeError } from '../segmentation/errors.js';
import { argmaxChannels, softmax, topK, upsampleArgmax, upsampleLogits } from '../segmentation/postprocess.js';
import { mulberry32 } from '../model/seeded-init.js';

/** Deterministic PRNG so random cases are reproducible. */
const rng = mulberry32;

function randomLogits(h: number, w: number, c: number, seed: number): Float32Tensor {
  const next = rng(seed);
  return { data: Float32Array.from({ length: h * w * c }, () => next() * 8 - 4), shape: [1, h, w, c] };
}

/** Smooth per-class fields (like real logits): regions of one class with boundaries between them. */
function smoothLogits(h: number, w: number, c: number, seed: number): Float32Tensor {
  const next = rng(seed);
  const waves = Array.from({ length: c }, () => [next() * 6, next() * 6, next() * 7, next() * 7]);
  const data = new Float32Array(h * w * c);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let k = 0; k < c; k++) {
        const [fy, fx, py, px] = waves[k];
        data[(y * w + x) * c + k] = Math.sin((fy * y) / h + py) + Math.cos((fx * x) / w + px);
      }
    }
  }
  return { data, shape: [1, h, w, c] };
}

/**
 * Independent reference: align_corners=False source coordinate from its definition, in float64
 * except for the scale, which ATen defines as float32 `input_size / output_size`.
 */
function sourceCoord(o: number, inSize: number, outSize: number): [number, number, number] {
  const src = Math.max(0, Math.fround(inSize / outSize) * (o + 0.5) - 0.5);
  const i0 = Math.floor(src);
  return [i0, Math.min(i0 + 1, inSize - 1), src - i0];
}

/** The C interpolated values at one output pixel, straight from the four neighbours. */
function referencePixel(logits: Float32Tensor, outH: number, outW: number, oy: number, ox: number): number[] {
  const [, h, w, c] = logits.shape;
  const [y0, y1, ly] = sourceCoord(oy, h, outH);
  const [x0, x1, lx] = sourceCoord(ox, w, outW);
  const at = (y: number, x: number, k: number) => logits.data[(y * w + x) * c + k];
  return Array.from({ length: c }, (_, k) =>
    (1 - ly) * ((1 - lx) * at(y0, x0, k) + lx * at(y0, x1, k)) + ly * ((1 - lx) * at(y1, x0, k) + lx * at(y1, x1, k)),
  );
}

/** Spacing of float32 values around |x|. */
function ulp(x: number): number {
  return 2 ** (Math.floor(Math.log2(Math.abs(x))) - 23);
}

function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let k = 1; k < values.length; k++) if (values[k] > values[best]) best = k;
  return best;
}

interface GoldenCase {
  name: string;
  logitsShape: number[];
  logitsNHWC: number[];
  outSize: [number, number];
  argmax: number[];
  upsampledNCHW?: number[];
}

const golden = JSON.parse(
  readFileSync(new URL('./fixtures/postprocess/bilinear-golden.json', import.meta.url), 'utf8'),
) as { torch: string; cases: GoldenCase[] };

describe('upsample against torch F.interpolate(bilinear, align_corners=False)', () => {
  for (const gc of golden.cases) {
    const logits: Float32Tensor = { data: Float32Array.from(gc.logitsNHWC), shape: gc.logitsShape };
    const [outH, outW] = gc.outSize;

    it(`${gc.name}: argmax equals torch's at every pixel`, () => {
      const map = upsampleArgmax(logits, outH, outW);
      assert.equal(map.width, outW);
      assert.equal(map.height, outH);
      assert.deepEqual(Array.from(map.data), gc.argmax);
    });

    if (gc.upsampledNCHW) {
      const expected = gc.upsampledNCHW;
      it(`${gc.name}: interpolated values equal torch's bit for bit`, () => {
        const up = upsampleLogits(logits, outH, outW);
        assert.deepEqual(up.shape, [1, gc.logitsShape[3], outH, outW]);
        assert.deepEqual(Array.from(up.data), expected);
      });
    }
  }
});

describe('upsampleArgmax equals argmax of the full upsampled map', () => {
  const sizes: Array<[string, number, number, number, number, number]> = [
    // name, h, w, C, outH, outW
    ['upscale x8, 97x131 image', 13, 17, 19, 97, 131],
    ['upscale non-integer', 9, 11, 5, 50, 37],
    ['downscale', 40, 30, 7, 13, 9],
    ['downscale one axis, upscale the other', 16, 5, 4, 7, 23],
    ['same size', 6, 9, 3, 6, 9],
    ['single pixel source', 1, 1, 4, 5, 3],
    ['single class', 5, 5, 1, 12, 12],
  ];
  for (const [name, h, w, c, outH, outW] of sizes) {
    for (const [kind, make] of [['random', randomLogits], ['smooth', smoothLogits]] as const) {
      it(`${name} (${kind} logits)`, () => {
        const logits = make(h, w, c, h * 1000 + w * 10 + c);
        const fast = upsampleArgmax(logits, outH, outW);
        const full = argmaxChannels(upsampleLogits(logits, outH, outW));
        assert.deepEqual(fast, full);
      });
    }
  }

  it('upsampleLogits matches an independent float64 per-pixel reference on every pixel', () => {
    const logits = randomLogits(7, 10, 6, 42);
    const [outH, outW] = [23, 31];
    const up = upsampleLogits(logits, outH, outW);
    let worst = 0;
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        const ref = referencePixel(logits, outH, outW, oy, ox);
        for (let k = 0; k < 6; k++) worst = Math.max(worst, Math.abs(up.data[(k * outH + oy) * outW + ox] - ref[k]));
      }
    }
    // Logits are in [-4, 4); float32 weights (relative error 2^-24) and three float32 roundings of
    // values below 4 keep us within 2 ulps of 4 (9.5e-7) of the exact result.
    assert.ok(worst <= 2 * ulp(4), `max |ours - reference| = ${worst}`);
  });
});

describe('upsampleArgmax on hand-computed cases', () => {
  it('1x2 source, two classes, to 1x4: src x = 0, 0.25, 0.75, 1 (clamped) → [0, 0, 1, 1]', () => {
    // Left pixel scores class 0, right pixel class 1. Output x=1 weighs them 0.75/0.25 → class 0;
    // x=2 weighs them 0.25/0.75 → class 1.
    const logits: Float32Tensor = { data: new Float32Array([1, 0, 0, 1]), shape: [1, 1, 2, 2] };
    assert.deepEqual(Array.from(upsampleArgmax(logits, 1, 4).data), [0, 0, 1, 1]);
    assert.deepEqual(Array.from(upsampleLogits(logits, 1, 4).data), [1, 0.75, 0.25, 0, 0, 0.25, 0.75, 1]);
  });

  it('a boundary pixel where no neighbour wins: 2x2 source, 3 classes', () => {
    // The neighbours' argmaxes are 0, 1, 0 (tie → lower), 1: class 2 wins at none of them. The one
    // output pixel of 2x2 → 1x1 sits at src (0.5, 0.5), the plain average of the four:
    // class 0 → 6/4 = 1.5, class 1 → 7.8/4 = 1.95, class 2 → 8.2/4 = 2.05.
    const px = (a: number, b: number, c: number) => [a, b, c];
    const data = new Float32Array([...px(4, 0, 2.5), ...px(0, 4, 2.5), ...px(2, 2, 1.5), ...px(0, 1.8, 1.7)]);
    const logits: Float32Tensor = { data, shape: [1, 2, 2, 3] };
    assert.deepEqual(Array.from(upsampleArgmax(logits, 1, 1).data), [2]);
  });

  it('ties go to the lowest index', () => {
    const flat: Float32Tensor = { data: new Float32Array(3 * 3 * 4).fill(0.5), shape: [1, 3, 3, 4] };
    assert.deepEqual(Array.from(upsampleArgmax(flat, 5, 7).data), new Array(35).fill(0));
    // Classes 1 and 3 tie for the maximum everywhere.
    const tied: Float32Tensor = { data: new Float32Array([0, 2, 1, 2, 0, 2, 1, 2]), shape: [1, 1, 2, 4] };
    assert.deepEqual(Array.from(upsampleArgmax(tied, 2, 3).data), [1, 1, 1, 1, 1, 1]);
  });

  it('refuses logits of the wrong rank, batch, length or class count, and bad sizes', () => {
    const ok: Float32Tensor = { data: new Float32Array(12), shape: [1, 2, 2, 3] };
    assert.throws(() => upsampleArgmax({ data: new Float32Array(12), shape: [2, 2, 3] }, 4, 4), ShapeError);
    assert.throws(() => upsampleArgmax({ data: new Float32Array(24), shape: [2, 2, 2, 3] }, 4, 4), /\[1, h, w, C\]/);
    assert.throws(() => upsampleArgmax({ data: new Float32Array(11), shape: [1, 2, 2, 3] }, 4, 4), /needs 12 values, data has 11/);
    assert.throws(() => upsampleArgmax({ data: new Float32Array(257), shape: [1, 1, 1, 257] }, 4, 4), /257 classes/);
    assert.throws(() => upsampleArgmax(ok, 0, 4), InvalidArgumentError);
    assert.throws(() => upsampleLogits(ok, 4, 2.5), InvalidArgumentError);
  });
});

describe('softmax and topK', () => {
  it('softmax of [0, ln 3] is [0.25, 0.75]; huge equal logits stay finite', () => {
    assert.deepEqual(Array.from(softmax([0, Math.log(3)])), [0.25, 0.75]);
    assert.deepEqual(Array.from(softmax([1000, 1000, 1000, 1000])), [0.25, 0.25, 0.25, 0.25]);
    const p = softmax([1, 2, 3]);
    const e = [Math.exp(-2), Math.exp(-1), 1];
    const sum = e[0] + e[1] + e[2];
    assert.deepEqual(Array.from(p), e.map((v) => Math.fround(v / sum)));
  });

  it('topK orders by probability, keeps index order on ties, and names the labels', () => {
    const probs = [0.1, 0.3, 0.05, 0.3, 0.25];
    const labels = ['a', 'b', 'c', 'd', 'e'];
    assert.deepEqual(topK(probs, 3, labels), [
      { index: 1, label: 'b', probability: 0.3 },
      { index: 3, label: 'd', probability: 0.3 },
      { index: 4, label: 'e', probability: 0.25 },
    ]);
    assert.equal(topK(probs, 10, labels).length, 5);
    assert.throws(() => topK(probs, 0, labels), InvalidArgumentError);
    assert.throws(() => topK(probs, 2, labels.slice(1)), /5 outputs but 4 labels/);
  });
});

describe('upsampleArgmax speed, [1,128,256,19] → 1024x2048 (reported, not asserted)', () => {
  it('agrees with the per-pixel reference on a sample of 2000 pixels', (t) => {
    const logits = smoothLogits(128, 256, 19, 7);
    const start = performance.now();
    const map = upsampleArgmax(logits, 1024, 2048);
    const ms = performance.now() - start;
    t.diagnostic(`upsampleArgmax [1,128,256,19] → 1024x2048: ${ms.toFixed(1)} ms`);
    const next = rng(99);
    let mismatches = 0;
    for (let i = 0; i < 2000; i++) {
      const oy = Math.floor(next() * 1024);
      const ox = Math.floor(next() * 2048);
      const ref = referencePixel(logits, 1024, 2048, oy, ox);
      const got = map.data[oy * 2048 + ox];
      // The float64 reference may only disagree where its top two values are within float32 noise.
      if (got !== argmax(ref) && Math.abs(ref[got] - ref[argmax(ref)]) > 1e-6) mismatches++;
    }
    assert.equal(mismatches, 0);
  });
});
