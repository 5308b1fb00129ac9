import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backboneConfig, makeDivisible } from '../model/architectures.js';
import { convsOf, expectedShapes, networkSpec, parameterCount } from '../model/network-spec.js';
import { foldNetwork } from '../model/fold.js';
import { seededStateDict } from '../model/seeded-init.js';

test('parameter counts equal torchvision', () => {
  assert.equal(parameterCount(networkSpec('mobilenet_v3_large')), 5_483_032);
  assert.equal(parameterCount(networkSpec('mobilenet_v3_small')), 2_542_856);
  assert.equal(parameterCount(networkSpec('lraspp_mobilenet_v3_large', { numClasses: 21 })), 3_221_538);
  assert.equal(parameterCount(networkSpec('lraspp_mobilenet_v3_large', { numClasses: 19 })), 3_221_198);
});

test('makeDivisible rounds like torchvision', () => {
  assert.deepEqual([makeDivisible(16), makeDivisible(72 / 4), makeDivisible(120 / 4), makeDivisible(960 / 4), makeDivisible(12)], [16, 24, 32, 240, 16]);
  // Never drops more than 10%: 0.75 * 28 = 21 → 24, not 16.
  assert.equal(makeDivisible(21), 24);
});

test('LR-ASPP takes the low feature at output stride 8 and the high one from the dilated last conv', () => {
  const large = networkSpec('lraspp_mobilenet_v3_large', { numClasses: 19 });
  const small = networkSpec('lraspp_mobilenet_v3_small', { numClasses: 19 });
  assert.equal(large.head.kind, 'lraspp');
  assert.equal(small.head.kind, 'lraspp');
  if (large.head.kind !== 'lraspp' || small.head.kind !== 'lraspp') return;
  assert.equal(large.head.lowFeature, 4);
  assert.equal(large.head.lowClassifier.inChannels, 40);
  assert.equal(small.head.lowFeature, 2);
  assert.equal(small.head.lowClassifier.inChannels, 24);
  assert.equal(large.head.cbr.inChannels, 960);
  assert.equal(small.head.cbr.inChannels, 576);
  // Strides up to the low feature multiply to 8 (stem 2 x three stride-2 blocks), the dilated tail keeps 16.
  const strideOf = (spec: typeof large, upTo: number) =>
    spec.backbone.blocks.slice(0, upTo).reduce((s, b) => s * b.depthwise.stride, spec.backbone.stem.stride);
  assert.equal(strideOf(large, large.head.lowFeature), 8);
  assert.equal(strideOf(large, large.backbone.blocks.length), 16);
  assert.equal(strideOf(small, small.head.lowFeature), 8);
  assert.equal(strideOf(small, small.backbone.blocks.length), 16);
  const tail = large.backbone.blocks.slice(-3).map((b) => [b.depthwise.dilation, b.depthwise.padding, b.depthwise.kernel]);
  assert.deepEqual(tail, [[2, 4, 5], [2, 4, 5], [2, 4, 5]]);
  // The head's BatchNorm keeps PyTorch's default eps, the backbone's is 0.001.
  assert.equal(large.head.cbr.batchNorm?.eps, 1e-5);
  assert.equal(large.backbone.stem.batchNorm?.eps, 1e-3);
});

test('names follow torchvision state_dict keys', () => {
  const shapes = expectedShapes(networkSpec('mobilenet_v3_large'));
  assert.deepEqual(shapes.get('features.0.0.weight'), [16, 3, 3, 3]);
  assert.deepEqual(shapes.get('features.1.block.0.0.weight'), [16, 1, 3, 3]);
  assert.deepEqual(shapes.get('features.4.block.2.fc1.weight'), [24, 72, 1, 1]);
  assert.deepEqual(shapes.get('features.16.0.weight'), [960, 160, 1, 1]);
  assert.deepEqual(shapes.get('classifier.0.weight'), [1280, 960]);
  assert.deepEqual(shapes.get('classifier.3.weight'), [1000, 1280]);
  const seg = expectedShapes(networkSpec('lraspp_mobilenet_v3_large', { numClasses: 19 }));
  assert.deepEqual(seg.get('classifier.scale.1.weight'), [128, 960, 1, 1]);
  assert.deepEqual(seg.get('classifier.low_classifier.weight'), [19, 40, 1, 1]);
  assert.ok(seg.has('backbone.16.1.running_var'));
});

test('width multiplier and reduced tail scale the channels like _mobilenet_v3_conf', () => {
  const half = backboneConfig('mobilenet_v3_large', { widthMult: 0.5 });
  assert.equal(half.stemChannels, 8);
  assert.equal(half.blocks[half.blocks.length - 1].outChannels, 80);
  const reduced = backboneConfig('mobilenet_v3_large', { reducedTail: true });
  assert.deepEqual(reduced.blocks.slice(-3).map((b) => [b.expandedChannels, b.outChannels]), [[672, 80], [480, 80], [480, 80]]);
  assert.equal(reduced.lastConvChannels, 480);
  assert.equal(reduced.lastChannel, 640);
});

test('seeded init is deterministic and folding an identity BatchNorm keeps the conv weights', () => {
  const spec = networkSpec('lraspp_mobilenet_v3_small', { numClasses: 19 });
  const a = seededStateDict(spec, 7);
  const b = seededStateDict(spec, 7);
  const c = seededStateDict(spec, 8);
  const name = 'backbone.3.block.1.0.weight';
  assert.deepEqual(a.get(name)?.data, b.get(name)?.data);
  assert.notDeepEqual(a.get(name)?.data, c.get(name)?.data);
  const folded = foldNetwork(spec, a);
  const stem = convsOf(folded)[0];
  // gamma 1, var 1, eps 1e-3: the folded weight is w / sqrt(1.001).
  const w = a.get('backbone.0.0.weight')!.data;
  assert.ok(Math.abs(stem.filter[5] - w[5] / Math.sqrt(1.001)) < 1e-7);
});

test('BatchNorm folding follows w*gamma/sqrt(var+eps) and beta-(mean)*gamma/sqrt(var+eps)', () => {
  const spec = networkSpec('mobilenet_v3_small');
  const dict = seededStateDict(spec, 1);
  const p = 'features.0.1';
  dict.get(`${p}.weight`)!.data.fill(2);
  dict.get(`${p}.bias`)!.data.fill(0.5);
  dict.get(`${p}.running_mean`)!.data.fill(0.25);
  dict.get(`${p}.running_var`)!.data.fill(3.999);
  const stem = convsOf(foldNetwork(spec, dict))[0];
  const w = dict.get('features.0.0.weight')!.data;
  // scale = 2 / sqrt(3.999 + 0.001) = 1
  assert.ok(Math.abs(stem.filter[10] - w[10]) < 1e-7);
  assert.ok(Math.abs(stem.biasValues[3] - 0.25) < 1e-7);
});
