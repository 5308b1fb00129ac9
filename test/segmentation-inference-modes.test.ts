/** Sliding-window placement, parameter checks and the banded slide / test-time augmentation against dense references. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Float32Tensor, InferenceEngine } from '../model/engines/engine.js';
import { InvalidArgumentError } from '../segmentation/errors.js';
import {
  checkForwardPasses,
  checkInferenceModeOptions,
  countForwardPasses,
  DEFAULT_INFERENCE_MODE,
  parseScales,
  parseWindowSize,
  scoresWithMode,
  segmentWithMode,
  slideWindowGrid,
  slideWindows,
  type InferenceModeOptions,
} from '../segmentation/inference-modes/index.js';
import { flipRgb, nchwToNhwc } from '../segmentation/inference-modes/image-ops.js';
import { cropRgb } from '../segmentation/preprocess.js';
import { argmaxChannels, upsampleLogits } from '../segmentation/postprocess.js';
import { normalizeImageNet } from '../segmentation/preprocess.js';
import type { RgbImage } from '../segmentation/types.js';
import { makeImage } from './segmentation-helpers.js';

const C = 5;

/**
 * A stand-in network with LR-ASPP's output geometry: NHWC [1, ceil(h/8), ceil(w/8), C], each cell's class scores a
 * fixed mix of its 8x8 block's mean colour and of its position within the input (so windows that see the same pixel
 * at different offsets disagree, as real windows do).
 */
class BlockEngine implements InferenceEngine {
  readonly engine = 'onnx' as const;
  readonly backend = 'test';
  runs = 0;
  async run(input: Float32Tensor): Promise<Float32Tensor> {
    this.runs++;
    const [, h, w] = input.shape;
    const oh = Math.ceil(h / 8);
    const ow = Math.ceil(w / 8);
    const out = new Float32Array(oh * ow * C);
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        const mean = [0, 0, 0];
        let n = 0;
        for (let y = i * 8; y < Math.min(h, i * 8 + 8); y++) {
          for (let x = j * 8; x < Math.min(w, j * 8 + 8); x++) {
            for (let ch = 0; ch < 3; ch++) mean[ch] += input.data[(y * w + x) * 3 + ch];
            n++;
          }
        }
        for (let k = 0; k < C; k++) {
          out[(i * ow + j) * C + k] = (mean[k % 3] / n) * (1 + 0.3 * k) + 0.4 * Math.sin(k + (i * 3) / oh + (j * 2) / ow);
        }
      }
    }
    return { data: out, shape: [1, oh, ow, C] };
  }
  dispose(): void {}
}

function sceneImage(width: number, height: number): RgbImage {
  return makeImage(width, height, (x, y) => [
    (x * 7 + y * 3) % 256,
    Math.round(128 + 100 * Math.sin(x / 9) * Math.cos(y / 13)),
    (x * y) % 199,
  ]);
}

function opts(overrides: Partial<InferenceModeOptions>): InferenceModeOptions {
  return { ...DEFAULT_INFERENCE_MODE, ...overrides };
}

/** slide_inference written naively: full-size sum and count maps, NCHW, as mmsegmentation does it. */
async function denseSlide(engine: InferenceEngine, img: RgbImage, o: InferenceModeOptions): Promise<Float32Tensor> {
  const plane = img.width * img.height;
  const sum = new Float32Array(C * plane);
  const count = new Float32Array(plane);
  for (const win of slideWindows(img.height, img.width, o.crop, o.stride)) {
    const crop = cropRgb(img, win.y1, win.y2, win.x1, win.x2);
    const logits = upsampleLogits(await engine.run(normalizeImageNet(crop)), crop.height, crop.width);
    for (let y = win.y1; y < win.y2; y++) {
      for (let x = win.x1; x < win.x2; x++) {
        count[y * img.width + x]++;
        for (let k = 0; k < C; k++) sum[k * plane + y * img.width + x] += logits.data[k * crop.height * crop.width + (y - win.y1) * crop.width + (x - win.x1)];
      }
    }
  }
  for (let k = 0; k < C; k++) for (let p = 0; p < plane; p++) sum[k * plane + p] /= count[p];
  return { data: sum, shape: [1, C, img.height, img.width] };
}

describe('window placement (mmsegmentation 1.x slide_inference)', () => {
  it("the issue's 700x1500 image with 256x512 crops and a 171x341 stride: 4x4 windows, the last flush with the edges", () => {
    const grid = slideWindowGrid(700, 1500, { height: 256, width: 512 }, { height: 171, width: 341 });
    assert.deepEqual(grid.rows, { starts: [0, 171, 342, 444], ends: [256, 427, 598, 700] });
    assert.deepEqual(grid.cols, { starts: [0, 341, 682, 988], ends: [512, 853, 1194, 1500] });
    assert.equal(grid.count, 16);
  });

  it("mmsegmentation's Cityscapes default on 1024x2048: 3x3 windows of 512x1024", () => {
    const windows = slideWindows(1024, 2048, DEFAULT_INFERENCE_MODE.crop, DEFAULT_INFERENCE_MODE.stride);
    assert.equal(windows.length, 9);
    assert.deepEqual(windows[0], { y1: 0, y2: 512, x1: 0, x2: 1024 });
    assert.deepEqual(windows[4], { y1: 341, y2: 853, x1: 683, x2: 1707 });
    assert.deepEqual(windows[8], { y1: 512, y2: 1024, x1: 1024, x2: 2048 });
  });

  it('a crop larger than the image is one window over the whole image', () => {
    assert.deepEqual(slideWindows(100, 200, { height: 512, width: 1024 }, { height: 341, width: 683 }), [{ y1: 0, y2: 100, x1: 0, x2: 200 }]);
  });

  it('forward passes: scales x flips x windows of each scaled size', () => {
    const o = opts({ mode: 'slide', crop: { height: 256, width: 512 }, stride: { height: 171, width: 341 } });
    assert.equal(countForwardPasses(o, 1500, 700), 16);
    // 0.5 → 750x350: 2x2 windows; 1 → 16; both flipped.
    assert.equal(countForwardPasses({ ...o, scales: [0.5, 1], flip: true }, 1500, 700), 2 * (4 + 16));
    assert.equal(countForwardPasses(opts({ scales: [0.5, 0.75, 1], flip: true }), 1500, 700), 6);
  });
});

describe('inference-mode parameters that cannot work are refused, naming the parameter', () => {
  const cases: [string, Partial<InferenceModeOptions>, RegExp][] = [
    ['zero stride', { stride: { height: 0, width: 5 } }, /^stride must be positive whole pixels, got 0x5$/],
    ['negative stride', { stride: { height: 4, width: -1 } }, /^stride must be positive/],
    ['stride larger than the crop', { crop: { height: 64, width: 128 }, stride: { height: 65, width: 64 } }, /^stride 65x64 is larger than the crop 64x128/],
    ['zero crop', { crop: { height: 0, width: 128 } }, /^crop must be positive/],
    ['fractional crop', { crop: { height: 1.5, width: 128 } }, /^crop must be positive/],
    ['no scales', { scales: [] }, /^scales must list at least one ratio$/],
    ['zero scale', { scales: [1, 0] }, /^scales must be ratios in \(0, 8\], got 0$/],
  ];
  for (const [name, overrides, message] of cases) {
    it(name, () => assert.throws(() => checkInferenceModeOptions(opts(overrides)), (err: Error) => err instanceof InvalidArgumentError && message.test(err.message)));
  }

  it('more than 64 forward passes per image unless the cap is raised', () => {
    const o = opts({ mode: 'slide', crop: { height: 64, width: 64 }, stride: { height: 32, width: 32 } });
    // 512x512: 15 x 15 = 225 windows.
    assert.throws(() => checkForwardPasses(o, 512, 512), /needs 225 forward passes, more than the cap of 64/);
    assert.equal(checkForwardPasses({ ...o, maxForwardPasses: 225 }, 512, 512), 225);
  });

  it('HxW and scale lists parse, and bad text names the parameter', () => {
    assert.deepEqual(parseWindowSize('512x1024', 'crop'), { height: 512, width: 1024 });
    assert.deepEqual(parseWindowSize('0x-3', 'stride'), { height: 0, width: -3 });
    assert.throws(() => parseWindowSize('512', 'crop'), /^Error: crop must be HxW|crop must be HxW \(e\.g\. 512x1024\), got '512'/);
    assert.deepEqual(parseScales('0.5, 0.75,1'), [0.5, 0.75, 1]);
    assert.throws(() => parseScales('0.5,,1'), /scales must be a comma-separated list of numbers/);
  });
});

describe('slide in bands equals the dense slide_inference', () => {
  const o = opts({ mode: 'slide', crop: { height: 24, width: 40 }, stride: { height: 13, width: 27 } });

  it('at native size (no upsample): same class map as argmax of the full averaged map', async () => {
    const img = sceneImage(101, 67);
    const engine = new BlockEngine();
    const result = await segmentWithMode(engine, img, 'native', o);
    const dense = await denseSlide(new BlockEngine(), img, o);
    assert.deepEqual(result.classMap, argmaxChannels(dense));
    const windows = slideWindows(67, 101, o.crop, o.stride).length;
    assert.equal(windows, 5 * 4);
    assert.equal(engine.runs, windows);
    assert.deepEqual(result.report, { mode: 'slide', crop: o.crop, stride: o.stride, scales: [1], flip: false, forwardPasses: windows });
  });

  it('stops between windows once its checkpoint throws (a cancelled job does not run its remaining passes)', async () => {
    const engine = new BlockEngine();
    const cancelled = new Error('cancelled');
    const checkpoint = () => {
      if (engine.runs >= 3) throw cancelled;
    };
    await assert.rejects(segmentWithMode(engine, sceneImage(101, 67), 'native', o, checkpoint), cancelled);
    assert.equal(engine.runs, 3, 'three of twenty windows ran');
  });

  it('after the size policy: averaged logits upsampled to the original size, bit for bit with the full map', async () => {
    const img = sceneImage(203, 133);
    const result = await segmentWithMode(new BlockEngine(), img, 101, o);
    assert.deepEqual(result.inferenceSize, { width: 101, height: 66 });
    const { resizeRgb } = await import('../segmentation/preprocess.js');
    const small = await resizeRgb(img, 101, 66);
    const dense = await denseSlide(new BlockEngine(), small, o);
    assert.deepEqual(result.classMap, argmaxChannels(upsampleLogits(nchwToNhwc(dense), 133, 203)));
  });

  it('logits: the averaged map itself', async () => {
    const img = sceneImage(90, 50);
    const { scores } = await scoresWithMode(new BlockEngine(), img, o);
    const dense = await denseSlide(new BlockEngine(), img, o);
    assert.deepEqual(scores.shape, [1, C, 50, 90]);
    assert.deepEqual(scores.data, dense.data);
  });
});

describe('test-time augmentation (SegTTAModel)', () => {
  it('flip: the average of the softmax of the plain and the un-flipped flipped pass', async () => {
    const img = sceneImage(64, 40);
    const engine = new BlockEngine();
    const { scores, report } = await scoresWithMode(engine, img, opts({ flip: true }));
    assert.equal(report.forwardPasses, 2);
    const plain = upsampleLogits(await engine.run(normalizeImageNet(img)), 40, 64);
    const flipped = upsampleLogits(await engine.run(normalizeImageNet(flipRgb(img))), 40, 64);
    const plane = 40 * 64;
    let worst = 0;
    for (let p = 0; p < plane; p++) {
      const y = Math.floor(p / 64);
      const mirror = y * 64 + (63 - (p % 64));
      const soft = (t: Float32Tensor, q: number) => {
        const e = Array.from({ length: C }, (_, k) => Math.exp(t.data[k * plane + q]));
        const s = e.reduce((a, b) => a + b, 0);
        return e.map((v) => v / s);
      };
      const a = soft(plain, p);
      const b = soft(flipped, mirror);
      for (let k = 0; k < C; k++) worst = Math.max(worst, Math.abs(scores.data[k * plane + p] - (a[k] + b[k]) / 2));
    }
    assert.ok(worst < 1e-6, `max |Δ| ${worst}`);
  });

  it('scales: probabilities at the original size sum to 1 and the class map is their argmax', async () => {
    const img = sceneImage(80, 48);
    const o = opts({ mode: 'slide', crop: { height: 32, width: 32 }, stride: { height: 24, width: 24 }, scales: [0.5, 1.25], flip: true });
    const { scores, report } = await scoresWithMode(new BlockEngine(), img, o);
    // 40x24 → 2x1 windows, 100x60 → 4x3; flipped too.
    assert.equal(report.forwardPasses, 2 * (2 + 12));
    const plane = 80 * 48;
    for (let p = 0; p < plane; p += 97) {
      let total = 0;
      for (let k = 0; k < C; k++) total += scores.data[k * plane + p];
      assert.ok(Math.abs(total - 1) < 1e-5);
    }
    const seg = await segmentWithMode(new BlockEngine(), img, 'native', o);
    assert.deepEqual(seg.classMap, argmaxChannels(scores));
    assert.equal(seg.report.forwardPasses, 28);
  });
});

describe('working-memory estimate (for a memory budget)', () => {
  it('slide at native size on 8K grows with a band of crop-height rows, not with the full C x H x W map', async () => {
    const { estimateModeBytes } = await import('../server/working-memory.js');
    const k8 = { width: 7680, height: 4320 };
    const slide = estimateModeBytes(opts({ mode: 'slide' }), k8, k8, 19);
    const fullMap = 19 * 7680 * 4320 * 4;
    // 4 B/pixel image + class map, one 512x1024 window (input + 2 logit copies), 512 rows x 7680 x 19 floats.
    assert.equal(slide, 4 * 7680 * 4320 + 12 * 512 * 1024 + 8 * 19 * 512 * 1024 + 4 * 19 * 512 * 7680);
    assert.ok(slide < fullMap / 3, `${slide} vs ${fullMap}`);
    const whole = estimateModeBytes(DEFAULT_INFERENCE_MODE, k8, { width: 1024, height: 576 }, 19);
    assert.equal(whole, 4 * 7680 * 4320 + 12 * 1024 * 576 + 4 * 19 * 128 * 72);
    // Augmented runs hold probabilities at the original size.
    const tta = estimateModeBytes(opts({ flip: true }), { width: 2048, height: 1024 }, { width: 1024, height: 512 }, 19);
    assert.ok(tta > 2 * 4 * 19 * 2048 * 1024);
  });
});
