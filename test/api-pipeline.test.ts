/**
 * The package entry's pipeline() from the compiled build (dist/index.js, what `import 'cityseg'` loads): one call
 * binds the engine, the weights' transform and label set; the bound function answers what segmentImage /
 * classifyImage answer on the same engine, from bytes or a path. Weights come from the parity fixtures and from a
 * preset served on 127.0.0.1 (its transform 232 → 224, as IMAGENET1K_V2's).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixture, rampImage, tempDir } from './cli-helpers.js';
import { fixtureCheckpoints, startMirror, testPresets, writePresets, type Mirror } from './weights-mirror.js';

const DIST = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const api = (await import(DIST)) as typeof import('../index.js');

let dir: string;
let cleanup: () => Promise<void>;
let image: string;
let bytes: Buffer;
let mirror: Mirror;
let presetsFile: string;

before(async () => {
  ({ dir, cleanup } = await tempDir('api-pipeline'));
  image = path.join(dir, 'street.png');
  await writeFile(image, await rampImage(96, 64).png().toBuffer());
  bytes = await readFile(image);
  const files = await fixtureCheckpoints();
  mirror = await startMirror({ 'lraspp_test.pth': files.segmentation, 'mobilenet_test.pth': files.classifier });
  presetsFile = await writePresets(dir, testPresets(files));
});
after(async () => {
  await mirror.close();
  await cleanup();
});

describe("pipeline('segmentation')", () => {
  it('binds a checkpoint with its label set; a path and bytes answer the class map segmentImage gives', async () => {
    const seg = await api.pipeline('segmentation', { weights: fixture('parity', 'lraspp_mobilenet_v3_large.pth'), engine: 'tfjs' });
    try {
      assert.deepEqual([seg.model.arch, seg.model.task, seg.model.numClasses, seg.labelSet.name], ['lraspp_mobilenet_v3_large', 'segmentation', 19, 'cityscapes']);
      const fromPath = await seg(image, { size: 64 });
      const fromBytes = await seg(bytes, { size: 64 });
      const direct = await api.segmentImage(seg.model.engine, bytes, { size: 64, maxPixels: 1e6 });
      assert.equal(fromPath.labelSet, seg.labelSet);
      assert.deepEqual([fromPath.classMap.width, fromPath.classMap.height], [96, 64]);
      assert.deepEqual(fromPath.classMap.data, direct.classMap.data);
      assert.deepEqual(fromBytes.classMap.data, direct.classMap.data);
      assert.deepEqual(fromPath.inferenceSize, { width: 64, height: 43 });
    } finally {
      seg.dispose();
    }
  });

  it("untrained ('none'): the untrained class count and its label set; a label set of another size is refused", async () => {
    const seg = await api.pipeline('segmentation', { weights: 'none', arch: 'lraspp_mobilenet_v3_small', engine: 'tfjs' });
    try {
      assert.deepEqual([seg.model.numClasses, seg.model.weights.trained, seg.labelSet.name], [19, false, 'cityscapes']);
    } finally {
      seg.dispose();
    }
    await assert.rejects(api.pipeline('segmentation', { weights: 'none', labels: 'voc', engine: 'tfjs' }), api.ClassCountMismatchError);
  });

  it('a classifier checkpoint is refused for segmentation', async () => {
    await assert.rejects(api.pipeline('segmentation', { weights: fixture('parity', 'mobilenet_v3_large.pth'), engine: 'tfjs' }), api.WeightsError);
  });
});

describe("pipeline('classification')", () => {
  it("runs the preset's transform (232 → 224) and answers classifyImage's top-k with ImageNet's labels", async () => {
    const previous = process.env.CITYSEG_TEST_PRESETS;
    process.env.CITYSEG_TEST_PRESETS = presetsFile;
    try {
      const classify = await api.pipeline('classification', { fetch: { mirror: mirror.url }, cacheDir: path.join(dir, 'cache'), engine: 'tfjs' });
      try {
        assert.equal(classify.model.weights.source, 'torchvision:mobilenet_v3_large.TEST_IMAGENET_V1');
        assert.deepEqual(classify.model.preprocessing, { resizeShortSide: 232, cropSize: 224 });
        assert.equal(classify.model.labels, 'imagenet');
        assert.deepEqual(classify.labels, api.IMAGENET_CLASSES);
        const { top } = await classify(image, { topk: 3 });
        const direct = await api.classifyImage(classify.model.engine, bytes, { maxPixels: 1e6, topk: 3, labels: api.IMAGENET_CLASSES, transform: { resizeShortSide: 232, cropSize: 224 } });
        assert.deepEqual(top, direct.top);
        assert.equal(top.length, 3);
      } finally {
        classify.dispose();
      }
    } finally {
      if (previous === undefined) delete process.env.CITYSEG_TEST_PRESETS;
      else process.env.CITYSEG_TEST_PRESETS = previous;
    }
  });

  it("a checkpoint file keeps torchvision's V1 transform (256 → 224)", async () => {
    const classify = await api.pipeline('classification', { weights: fixture('parity', 'mobilenet_v3_large.pth'), engine: 'tfjs' });
    try {
      assert.deepEqual(classify.model.preprocessing, api.IMAGENET1K_V1_TRANSFORM);
      assert.deepEqual(api.IMAGENET1K_V1_TRANSFORM, { resizeShortSide: 256, cropSize: 224 });
      assert.equal((await classify(bytes)).top.length, 5);
    } finally {
      classify.dispose();
    }
  });
});
