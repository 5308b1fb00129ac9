import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { evaluateArrays, evaluateDirs, formatEvalTable, type EvalResult } from '../segmentation/eval/evaluate.js';

// Made by test/fixtures/eval/make_golden.py from the definitions of cityscapesScripts' evalPixelLevelSemanticLabeling.py.
const fixture = (name: string) => new URL(`./fixtures/eval/${name}`, import.meta.url);
const expected = JSON.parse(readFileSync(fixture('expected.json'), 'utf8')) as EvalResult;
const expectedTable = readFileSync(fixture('expected-table.txt'), 'utf8');
const arrays = JSON.parse(readFileSync(fixture('arrays.json'), 'utf8')) as {
  name: string;
  width: number;
  height: number;
  groundTruth: number[];
  prediction: number[];
  instances: number[];
}[];
const goldenDir = fileURLToPath(fixture('golden'));

function assertScores(actual: Record<string, number | null> | null, wanted: Record<string, number | null> | null, what: string) {
  if (!actual || !wanted) return assert.fail(`${what} missing`);
  assert.deepEqual(Object.keys(actual), Object.keys(wanted), `${what}: same names in the same order`);
  for (const [name, value] of Object.entries(wanted)) {
    const got: number | null = actual[name];
    if (value === null) assert.equal(got, null, `${what}.${name}`);
    else assert.ok(got !== null && Math.abs(got - value) < 1e-9, `${what}.${name}: ${got} ≠ ${value}`);
  }
}

function assertMatchesGolden(result: EvalResult) {
  assert.equal(result.nImages, 3);
  assert.deepEqual(result.confusion, expected.confusion);
  assertScores(result.classIoU, expected.classIoU, 'classIoU');
  assertScores(result.categoryIoU, expected.categoryIoU, 'categoryIoU');
  assertScores(result.iIoU, expected.iIoU, 'iIoU');
  assertScores(result.categoryIIoU, expected.categoryIIoU, 'categoryIIoU');
  assertScores(
    { mIoU: result.mIoU, mCategoryIoU: result.mCategoryIoU, mIIoU: result.mIIoU, mCategoryIIoU: result.mCategoryIIoU },
    { mIoU: expected.mIoU, mCategoryIoU: expected.mCategoryIoU, mIIoU: expected.mIIoU, mCategoryIIoU: expected.mCategoryIIoU },
    'means',
  );
}

test('golden fixture: the fixture is not trivial (NaN class, zero classes, iIoU ≠ IoU)', () => {
  assert.equal(expected.classIoU.train, null);
  assert.equal(expected.classIoU.wall, 0);
  assert.notEqual(expected.iIoU!.car, expected.classIoU.car);
  assert.ok(expected.mIoU! > 0.4 && expected.mIoU! < 0.6, `mIoU ${expected.mIoU}`);
});

test('evaluateDirs on PNGs (grey, palette, nested prediction folders, 16-bit instances) equals the golden scores', async () => {
  const progress: [number, number, string][] = [];
  const result = await evaluateDirs({
    predDir: `${goldenDir}/pred`,
    gtDir: `${goldenDir}/gt`,
    onProgress: (done, total, file) => progress.push([done, total, file.replace(`${goldenDir}/gt/`, '')]),
  });
  assertMatchesGolden(result);
  assert.deepEqual(progress, [
    [1, 3, 'aachen/aachen_000000_000019_gtFine_labelIds.png'],
    [2, 3, 'bochum/bochum_000001_000123_gtFine_labelIds.png'],
    [3, 3, 'zurich/zurich_000042_000007_gtFine_labelIds.png'],
  ]);
});

test('evaluateArrays on the same images as arrays, fed by an async generator, equals the golden scores', async () => {
  async function* pairs() {
    for (const image of arrays) {
      const size = { width: image.width, height: image.height };
      yield {
        groundTruth: { data: Uint8Array.from(image.groundTruth), ...size, source: `${image.name} gt` },
        prediction: { data: Uint8Array.from(image.prediction), ...size, source: `${image.name} prediction` },
        instances: { data: Uint16Array.from(image.instances), ...size, source: `${image.name} instances` },
      };
    }
  }
  assertMatchesGolden(await evaluateArrays(pairs()));
});

test('formatEvalTable prints what the script prints (Python-formatted table from the generator)', async () => {
  const result = await evaluateDirs({ predDir: `${goldenDir}/pred`, gtDir: `${goldenDir}/gt` });
  assert.equal(formatEvalTable(result), expectedTable);
});
