/**
 * The committed parity weights read back exactly as torch wrote them: every tensor's shape, four sampled
 * values bit-for-bit, and its sum over all values (weights_samples.json, written by scripts/make_fixtures.py).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readNpy } from '../model/npy.js';
import { readStateDictFile } from '../model/weights/load.js';

const dir = fileURLToPath(new URL('./fixtures/parity/', import.meta.url));

interface TensorSummary {
  shape: number[];
  dtype: string;
  sum: number;
  sumAbs: number;
  samples: [number, number | string][];
}

interface Manifest {
  parameterCounts: { arch: string; numClasses: number; parameterCount: number }[];
  models: {
    arch: string;
    numClasses: number;
    weights: string;
    parameterCount: number;
    cases: { image: string; expected: string; shape: number[]; height: number; width: number; maxAbsLogit: number }[];
  }[];
}

const manifest = JSON.parse(await readFile(dir + 'manifest.json', 'utf8')) as Manifest;
const samples = JSON.parse(await readFile(dir + 'weights_samples.json', 'utf8')) as Record<string, Record<string, TensorSummary>>;

/** JSON cannot hold NaN/±Infinity, so the fixtures spell them as strings. */
function fromJson(value: number | string): number {
  const special: Record<string, number> = { nan: NaN, inf: Infinity, '-inf': -Infinity };
  return typeof value === 'string' ? special[value] : value;
}

describe('parity weight files', () => {
  for (const model of manifest.models) {
    it(`${model.weights} holds exactly the tensors torch saved`, async () => {
      const expected = samples[model.weights];
      const sd = await readStateDictFile(dir + model.weights);
      assert.deepEqual([...sd.keys()], Object.keys(expected), 'tensor names in file order');
      for (const [name, summary] of Object.entries(expected)) {
        const tensor = sd.get(name)!;
        assert.deepEqual(tensor.shape, summary.shape, `${name} shape`);
        for (const [index, value] of summary.samples) {
          assert.equal(tensor.data[index], fromJson(value), `${name}[${index}]`);
        }
        let sum = 0;
        for (const v of tensor.data) sum += v;
        // Only the summation order differs from numpy's: agreement to 1e-9 of the total magnitude.
        assert.ok(Math.abs(sum - summary.sum) <= 1e-9 * Math.max(summary.sumAbs, 1e-30), `${name} sum ${sum} vs ${summary.sum}`);
      }
    });
  }

  it('the float16 file stores float16 weights and int64 counters', () => {
    const dtypes = new Set(Object.values(samples['mobilenet_v3_large.pth']).map((s) => s.dtype));
    assert.deepEqual([...dtypes].sort(), ['float16', 'int64']);
  });

  it('parameter counts in the manifest add up from the stored tensors (BN running stats excluded)', async () => {
    for (const model of manifest.models) {
      const entries = Object.entries(samples[model.weights]);
      const params = entries
        .filter(([name]) => !/\.(running_mean|running_var|num_batches_tracked)$/.test(name))
        .reduce((n, [, s]) => n + s.shape.reduce((a, d) => a * d, 1), 0);
      assert.equal(params, model.parameterCount, model.arch);
    }
    assert.deepEqual(
      manifest.parameterCounts.map((c) => `${c.arch}/${c.numClasses}`),
      manifest.models.map((m) => `${m.arch}/${m.numClasses}`).concat(['lraspp_mobilenet_v3_large/21', 'lraspp_mobilenet_v3_small/21']),
    );
  });

  it('every case has its image and an expected-logits .npy of the stated shape', async () => {
    for (const model of manifest.models) {
      for (const c of model.cases) {
        const logits = readNpy(await readFile(dir + c.expected), c.expected);
        assert.deepEqual(logits.shape, c.shape, c.expected);
        const expectedShape = model.arch.startsWith('lraspp') ? [1, model.numClasses, c.height, c.width] : [1, model.numClasses];
        assert.deepEqual(logits.shape, expectedShape, c.expected);
        const maxAbs = logits.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        assert.ok(Math.abs(maxAbs - c.maxAbsLogit) <= 5e-5, `${c.expected}: max |logit| ${maxAbs} vs manifest ${c.maxAbsLogit}`);
        const png = await readFile(dir + c.image);
        assert.equal(png.readUInt32BE(16), c.width, `${c.image} width`);
        assert.equal(png.readUInt32BE(20), c.height, `${c.image} height`);
      }
    }
  });

  it('imagenet_classes.json lists the 1000 ImageNet classes in index order', async () => {
    const classes = JSON.parse(await readFile(dir + 'imagenet_classes.json', 'utf8')) as string[];
    assert.equal(classes.length, 1000);
    assert.equal(classes[0], 'tench');
    assert.equal(classes[999], 'toilet tissue');
  });
});
