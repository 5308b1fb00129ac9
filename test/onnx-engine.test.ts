import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FoldedNetwork } from '../model/fold.js';
import { OnnxEngine } from '../model/engines/onnx-engine.js';
import { OnnxEngineError } from '../model/engines/onnx-errors.js';
import { TfjsEngine } from '../model/engines/tfjs-engine.js';
import type { ArchName } from '../model/loaded-model.js';
import { agreement, argmaxAlong, calibrateHead, distinctCount, maxAbs, maxAbsDiff, randomisedNetwork, seededInput } from './onnx-test-networks.js';

const ARCHS: { arch: ArchName; numClasses: number; seed: number }[] = [
  { arch: 'mobilenet_v3_large', numClasses: 1000, seed: 11 },
  { arch: 'mobilenet_v3_small', numClasses: 1000, seed: 12 },
  { arch: 'lraspp_mobilenet_v3_large', numClasses: 19, seed: 13 },
  { arch: 'lraspp_mobilenet_v3_small', numClasses: 19, seed: 14 },
];

/** [N, H, W]: odd sizes (ceil at every stride), a square one, and one smaller than the 1/32 stride. */
const INPUT_SIZES = [
  [2, 97, 131],
  [2, 64, 64],
  [1, 9, 17],
];

const MAX_ABS_DIFF = 1e-4;
/**
 * Untrained LR-ASPP logits vary ~40x less across pixels than their per-class constant, so centring and scaling
 * them amplifies float32 round-off too: at std 2 two correct engines (tfjs cpu vs tfjs wasm) already differ by
 * 1.7e-4. At std 0.5 (logits within about ±4) the engines differ by <= 5e-5, while a 4e-5 relative change of one
 * activation (HardSigmoid alpha 0.1666 for 1/6) shows as 2e-4 and still fails.
 */
const LOGIT_STD = 0.5;

/** Calibrates the head on its own input, so the compared logits are O(1) and not all of one class. */
async function calibratedNetwork(arch: ArchName, numClasses: number, seed: number): Promise<FoldedNetwork> {
  const net = randomisedNetwork(arch, numClasses, seed);
  const engine = await TfjsEngine.create(net);
  try {
    calibrateHead(net, await engine.run(seededInput([1, 80, 112, 3], seed + 100)), LOGIT_STD);
  } finally {
    engine.dispose();
  }
  return net;
}

for (const { arch, numClasses, seed } of ARCHS) {
  describe(`OnnxEngine ${arch} (${numClasses} classes) against TfjsEngine`, () => {
    let onnx: OnnxEngine;
    let tfjs: TfjsEngine;
    before(async () => {
      const net = await calibratedNetwork(arch, numClasses, seed);
      onnx = await OnnxEngine.create(net, { intraOpThreads: 1 });
      tfjs = await TfjsEngine.create(net);
    });
    after(() => {
      onnx.dispose();
      tfjs.dispose();
    });

    for (const [n, h, w] of INPUT_SIZES) {
      it(`matches on [${n}, ${h}, ${w}, 3]`, async (t) => {
        const input = seededInput([n, h, w, 3], seed * 1000 + h);
        const [got, want] = await Promise.all([onnx.run(input), tfjs.run(input)]);
        const segmentation = arch.startsWith('lraspp');
        assert.deepEqual(got.shape, segmentation ? [n, Math.ceil(h / 8), Math.ceil(w / 8), numClasses] : [n, numClasses]);
        assert.deepEqual(got.shape, want.shape);
        const diff = maxAbsDiff(got.data, want.data);
        t.diagnostic(`max abs diff ${diff.toExponential(2)}, max |logit| ${maxAbs(want.data).toFixed(2)}`);
        assert.ok(diff <= MAX_ABS_DIFF, `max abs diff ${diff} > ${MAX_ABS_DIFF}`);
        const channels = got.shape.length - 1;
        const gotClasses = argmaxAlong(got, channels);
        assert.equal(agreement(gotClasses, argmaxAlong(want, channels)), 1);
        // Guards against a vacuous comparison: calibrated segmentation logits must not be one class everywhere.
        if (segmentation && h * w > 1000) assert.ok(distinctCount(gotClasses) > 1, 'every pixel has the same class');
      });
    }
  });
}

describe('OnnxEngine interface', () => {
  let engine: OnnxEngine;
  before(async () => {
    engine = await OnnxEngine.create(randomisedNetwork('lraspp_mobilenet_v3_small', 19, 3), { intraOpThreads: 1 });
  });
  after(() => engine.dispose());

  it('names itself onnx on onnxruntime-cpu', () => {
    assert.equal(engine.engine, 'onnx');
    assert.equal(engine.backend, 'onnxruntime-cpu');
  });

  it('rejects NCHW input, naming the shape', async () => {
    await assert.rejects(engine.run(seededInput([1, 3, 16, 16], 1)), (err: Error) => {
      assert.ok(err instanceof OnnxEngineError);
      assert.match(err.message, /\[1, 3, 16, 16\]/);
      return true;
    });
  });

  it('rejects data that does not fill the shape', async () => {
    const input = { data: new Float32Array(10), shape: [1, 4, 4, 3] };
    await assert.rejects(engine.run(input), /input data has 10 values, shape \[1, 4, 4, 3\] needs 48/);
  });

  it('gives each image of a batch the result it gets alone', async () => {
    const batch = seededInput([2, 24, 40, 3], 5);
    const half = batch.data.length / 2;
    const [both, first, second] = await Promise.all([
      engine.run(batch),
      engine.run({ data: batch.data.slice(0, half), shape: [1, 24, 40, 3] }),
      engine.run({ data: batch.data.slice(half), shape: [1, 24, 40, 3] }),
    ]);
    const perImage = both.data.length / 2;
    assert.ok(maxAbsDiff(both.data.subarray(0, perImage), first.data) <= 1e-6);
    assert.ok(maxAbsDiff(both.data.subarray(perImage), second.data) <= 1e-6);
  });

  it('refuses to run once disposed, after finishing the run in flight', async () => {
    const own = await OnnxEngine.create(randomisedNetwork('lraspp_mobilenet_v3_small', 19, 4), { intraOpThreads: 1 });
    const inFlight = own.run(seededInput([1, 32, 32, 3], 2));
    own.dispose();
    assert.deepEqual((await inFlight).shape, [1, 4, 4, 19]);
    await assert.rejects(own.run(seededInput([1, 32, 32, 3], 2)), OnnxEngineError);
    own.dispose();
  });

  // Where onnxruntime-node was installed with its CUDA libraries (ONNXRUNTIME_NODE_INSTALL=cuda12) this is not the case.
  const cudaInstalled = existsSync(path.join(path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', 'linux', 'x64', 'libonnxruntime_providers_cuda.so'));
  it('names the execution provider and the fix when cuda is not available', { skip: cudaInstalled && 'the CUDA provider is installed here' }, async () => {
    await assert.rejects(OnnxEngine.create(randomisedNetwork('lraspp_mobilenet_v3_small', 19, 4), { executionProvider: 'cuda' }), (err: Error) => {
      assert.ok(err instanceof OnnxEngineError);
      assert.match(err.message, /^execution provider cuda is not available here \(.+\): install onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12 .*CITYSEG_EXECUTION_PROVIDER=cpu$/);
      return true;
    });
  });
});
