/**
 * The classifier's input equals torchvision 0.14's ImageNet eval transforms on PIL images (Resize(256) for the
 * IMAGENET1K_V1 weights, Resize(232) for IMAGENET1K_V2, with PIL's bilinear resampler, then CenterCrop(224),
 * ToTensor, Normalize), on golden fixtures from scripts/make_classify_transform_fixtures.py: enlarged, shrunk, odd
 * and elongated images, synthetic (committed) and real street frames (read from ../shared/real, never copied; those
 * cases skip when it is missing). The transform each preset's descriptor carries is the one tested.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { InferenceEngine } from '../model/engines/engine.js';
import { describeNetwork, type ClassifierTransform } from '../model/descriptor.js';
import { createEngine } from '../model/load-model.js';
import { foldNetwork } from '../model/fold.js';
import { networkSpec } from '../model/network-spec.js';
import { readStateDictFile } from '../model/weights/load.js';
import { findPreset, TORCHVISION_PRESETS } from '../model/weights/presets.js';
import { decodeImage } from '../segmentation/decode.js';
import { InvalidArgumentError } from '../segmentation/errors.js';
import { pilResizeBilinear } from '../segmentation/pil-resize.js';
import { softmax } from '../segmentation/postprocess.js';
import { classificationCrop, classificationInput } from '../segmentation/preprocess.js';
import type { RgbImage } from '../segmentation/types.js';
import { makeImage } from './segmentation-helpers.js';
import { realFrame, SHARED_REAL_SKIP } from './shared-real.js';

const DIR = fileURLToPath(new URL('./fixtures/classify-transform/', import.meta.url));
/** The issue's bound on the probabilities' distance from torchvision's. */
const MAX_TOTAL_VARIATION = 0.005;

interface Case {
  name: string;
  /** torchvision's Resize(resizeShortSide) before the 224 crop. */
  resizeShortSide: number;
  source: { synthetic: string } | { shared: string; crop: [number, number, number, number] | null };
  width: number;
  height: number;
  resized: [number, number];
  cropSha256: string;
  tensorSamples: [number, number, number, number][];
  probabilities: number[];
  top5: number[];
}

interface Manifest {
  weights: string;
  overrides: string;
  classifierScale: number;
  cases: Case[];
  tiny: { source: string; resizes: { width: number; height: number; pixels: number[] }[] };
}

const manifest = JSON.parse(readFileSync(DIR + 'manifest.json', 'utf8')) as Manifest;

async function decodeFile(file: string): Promise<RgbImage> {
  return decodeImage(readFileSync(file), { maxPixels: 1e8 });
}

function cropBox(img: RgbImage, [left, top, right, bottom]: [number, number, number, number]): RgbImage {
  const width = right - left;
  const data = new Uint8Array(width * (bottom - top) * 3);
  for (let y = top; y < bottom; y++) {
    data.set(img.data.subarray((y * img.width + left) * 3, (y * img.width + right) * 3), (y - top) * width * 3);
  }
  return { data, width, height: bottom - top };
}

/** The transform of the case, as the descriptor of torchvision's weights with that resize carries it. */
function transformOf(c: Case): ClassifierTransform {
  const variant = c.resizeShortSide === 232 ? 'IMAGENET1K_V2' : 'IMAGENET1K_V1';
  const preset = findPreset(`torchvision:mobilenet_v3_large.${variant}`, TORCHVISION_PRESETS);
  const transform = describeNetwork(preset.arch, preset.numClasses, preset).preprocessing;
  assert.deepEqual(transform, { resizeShortSide: c.resizeShortSide, cropSize: 224 });
  return transform!;
}

async function sourceOf(c: Case): Promise<RgbImage> {
  if ('synthetic' in c.source) return decodeFile(DIR + c.source.synthetic);
  const frame = await decodeFile(realFrame(c.source.shared));
  return c.source.crop ? cropBox(frame, c.source.crop) : frame;
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

describe("PIL's bilinear resampler (pil-resize.ts)", () => {
  it('equals Image.resize(BILINEAR) on each pass alone, both, enlarging and shrinking by odd factors', async () => {
    const tiny = await decodeFile(DIR + manifest.tiny.source);
    for (const r of manifest.tiny.resizes) {
      const out = pilResizeBilinear(tiny, r.width, r.height);
      assert.deepEqual([out.width, out.height], [r.width, r.height]);
      assert.deepEqual([...out.data], r.pixels, `13x7 -> ${r.width}x${r.height}`);
    }
  });

  it('keeps flat colour exact and copies when the size does not change', () => {
    const flat = makeImage(9, 5, () => [12, 200, 77]);
    const big = pilResizeBilinear(flat, 31, 17);
    for (let i = 0; i < big.data.length; i += 3) assert.deepEqual([...big.data.subarray(i, i + 3)], [12, 200, 77]);
    const same = pilResizeBilinear(flat, 9, 5);
    assert.notEqual(same.data, flat.data);
    assert.deepEqual(same.data, flat.data);
  });

  it('refuses a size that is not a positive integer, or data of the wrong length', () => {
    const img = makeImage(4, 4, () => [0, 0, 0]);
    assert.throws(() => pilResizeBilinear(img, 0, 3), InvalidArgumentError);
    assert.throws(() => pilResizeBilinear(img, 2.5, 3), /width must be a positive integer, got 2.5/);
    assert.throws(() => pilResizeBilinear({ data: new Uint8Array(5), width: 4, height: 4 }, 2, 2), /needs 48 bytes, has 5/);
  });
});

describe("classifier input = the weights' torchvision Resize(256 or 232) + CenterCrop(224) + Normalize", () => {
  it('the fixtures cover both transforms on synthetic and real images', () => {
    const kinds = new Set(manifest.cases.map((c) => `${c.resizeShortSide} ${'shared' in c.source ? 'real' : 'synthetic'}`));
    assert.deepEqual([...kinds].sort(), ['232 real', '232 synthetic', '256 real', '256 synthetic']);
  });

  for (const c of manifest.cases) {
    const skip = 'shared' in c.source && SHARED_REAL_SKIP;
    it(`${c.name}: ${c.width}x${c.height} -> ${c.resized.join('x')}, the crop bit-exact, the tensor to float32`, { skip }, async () => {
      const img = await sourceOf(c);
      assert.deepEqual([img.width, img.height], [c.width, c.height]);
      const crop = await classificationCrop(img, transformOf(c));
      assert.equal(sha256(crop.data), c.cropSha256, 'the 224x224 crop differs from torchvision’s');
      const tensor = await classificationInput(img, transformOf(c));
      for (const [channel, y, x, value] of c.tensorSamples) {
        const ours = tensor.data[(y * 224 + x) * 3 + channel];
        assert.ok(Math.abs(ours - value) <= 1e-6, `(${channel}, ${y}, ${x}): ${ours} vs torchvision ${value}`);
      }
    });
  }
});

describe('classifier probabilities on torchvision’s transform (peaked classifier: real BatchNorm statistics)', () => {
  let engine: InferenceEngine;
  before(async () => {
    const dict = await readStateDictFile(DIR + manifest.weights);
    for (const [name, tensor] of await readStateDictFile(DIR + manifest.overrides)) dict.set(name, tensor);
    // torch: weight.float() * float32(scale), bias likewise.
    const scale = Math.fround(manifest.classifierScale);
    for (const name of ['classifier.3.weight', 'classifier.3.bias']) {
      const t = dict.get(name)!;
      dict.set(name, { shape: t.shape, data: t.data.map((v) => Math.fround(v * scale)) });
    }
    engine = await createEngine(foldNetwork(networkSpec('mobilenet_v3_large', { numClasses: 1000 }), dict), 'auto');
  });
  after(() => engine?.dispose());

  for (const c of manifest.cases) {
    const skip = 'shared' in c.source && SHARED_REAL_SKIP;
    it(`${c.name}: total variation to torchvision ≤ ${MAX_TOTAL_VARIATION}, same top-5`, { skip }, async (t) => {
      const logits = await engine.run(await classificationInput(await sourceOf(c), transformOf(c)));
      const probs = softmax(logits.data);
      let tv = 0;
      for (let i = 0; i < probs.length; i++) tv += Math.abs(probs[i] - c.probabilities[i]) / 2;
      t.diagnostic(`${c.name}: total variation ${tv.toExponential(2)}, top-1 p ${Math.max(...c.probabilities).toFixed(3)}`);
      assert.ok(tv <= MAX_TOTAL_VARIATION, `total variation ${tv}`);
      const top5 = [...probs.keys()].sort((a, b) => probs[b] - probs[a]).slice(0, 5);
      assert.deepEqual(top5, c.top5);
    });
  }
});
