import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BatchingEngine } from '../model/engines/batching-engine.js';
import type { Float32Tensor, InferenceEngine } from '../model/engines/engine.js';

/** Output per image = [sum of its input, batch size it ran in], so slicing and grouping are visible. */
class RecordingEngine implements InferenceEngine {
  readonly engine = 'tfjs' as const;
  readonly backend = 'test';
  readonly batchSizes: number[] = [];
  async run(input: Float32Tensor): Promise<Float32Tensor> {
    const n = input.shape[0];
    this.batchSizes.push(n);
    const per = input.data.length / n;
    const data = new Float32Array(n * 2);
    for (let i = 0; i < n; i++) {
      data[i * 2] = input.data.subarray(i * per, (i + 1) * per).reduce((a, b) => a + b, 0);
      data[i * 2 + 1] = n;
    }
    return { data, shape: [n, 2] };
  }
  dispose() {}
}

const image = (value: number, h = 2, w = 3): Float32Tensor => ({ data: new Float32Array(h * w * 3).fill(value), shape: [1, h, w, 3] });

test('concurrent same-size calls run as one batch and each gets its own slice', async () => {
  const inner = new RecordingEngine();
  const engine = new BatchingEngine(inner, { maxBatch: 4, maxWaitMs: 20 });
  const outputs = await Promise.all([1, 2, 3].map((v) => engine.run(image(v))));
  assert.deepEqual(inner.batchSizes, [3]);
  assert.deepEqual(outputs.map((o) => [...o.data]), [[18, 3], [36, 3], [54, 3]]);
  assert.deepEqual(outputs[0].shape, [1, 2]);
  assert.deepEqual(engine.stats, { batches: 1, images: 3 });
});

test('a full batch runs at once; different sizes never share a batch', async () => {
  const inner = new RecordingEngine();
  const engine = new BatchingEngine(inner, { maxBatch: 2, maxWaitMs: 10_000 });
  const full = await Promise.all([engine.run(image(1)), engine.run(image(1))]);
  assert.deepEqual(full.map((o) => o.data[1]), [2, 2]);
  const mixed = Promise.all([engine.run(image(1, 2, 3)), engine.run(image(1, 3, 2))]);
  engine.dispose(); // flushes the two half-empty batches
  assert.deepEqual((await mixed).map((o) => o.data[1]), [1, 1]);
  assert.deepEqual(inner.batchSizes, [2, 1, 1]);
});

test('maxBatch 1 passes calls straight through', async () => {
  const inner = new RecordingEngine();
  const engine = new BatchingEngine(inner, { maxBatch: 1, maxWaitMs: 5 });
  await Promise.all([engine.run(image(1)), engine.run(image(2))]);
  assert.deepEqual(inner.batchSizes, [1, 1]);
});

test('an engine failure rejects every caller of that batch', async () => {
  const failing: InferenceEngine = { engine: 'tfjs', backend: 'test', run: async () => { throw new Error('boom'); }, dispose() {} };
  const engine = new BatchingEngine(failing, { maxBatch: 3, maxWaitMs: 5 });
  const results = await Promise.allSettled([engine.run(image(1)), engine.run(image(2))]);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
});

test('loadModel with batching: concurrent requests share one batch and equal the unbatched answers', async () => {
  const { loadModel } = await import('../model/load-model.js');
  const opts = { arch: 'lraspp_mobilenet_v3_small' as const, numClasses: 19, engine: 'tfjs' as const };
  const plain = await loadModel(opts);
  const batched = await loadModel({ ...opts, batching: { maxBatch: 3, maxWaitMs: 50 } });
  try {
    assert.ok(batched.engine instanceof BatchingEngine);
    const inputs = [0.1, -0.4, 0.9].map((v) => {
      const t = image(v, 40, 56);
      t.data.forEach((_, i) => (t.data[i] = v * Math.sin(i / 7)));
      return t;
    });
    const together = await Promise.all(inputs.map((t) => batched.engine.run(t)));
    assert.deepEqual((batched.engine as BatchingEngine).stats, { batches: 1, images: 3 });
    for (const [i, t] of inputs.entries()) {
      const alone = await plain.engine.run(t);
      assert.deepEqual(together[i].shape, alone.shape);
      let maxAbs = 0;
      alone.data.forEach((v, j) => (maxAbs = Math.max(maxAbs, Math.abs(v - together[i].data[j]))));
      assert.ok(maxAbs < 1e-5, `image ${i}: batched differs by ${maxAbs}`);
    }
  } finally {
    plain.engine.dispose();
    batched.engine.dispose();
  }
});

test('SerialEngine runs one inference at a time, in order, and survives a failure', async () => {
  const { SerialEngine } = await import('../model/engines/serial-engine.js');
  let active = 0;
  let peak = 0;
  const order: number[] = [];
  const slow: InferenceEngine = {
    engine: 'onnx',
    backend: 'test',
    async run(input) {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 5));
      active--;
      order.push(input.data[0]);
      if (input.data[0] === 2) throw new Error('boom');
      return input;
    },
    dispose() {},
  };
  const engine = new SerialEngine(slow);
  const results = await Promise.allSettled([1, 2, 3].map((v) => engine.run(image(v))));
  assert.equal(peak, 1);
  assert.deepEqual(order, [1, 2, 3]);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
});
