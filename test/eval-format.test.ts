import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evaluateArrays, formatEvalTable } from '../segmentation/eval/evaluate.js';
import { formatScore } from '../segmentation/eval/format.js';

test("formatScore is Python's '{:>5.3f}': ties (odd sixteenths) round to even, NaN/null print nan", () => {
  // Python: ['{:>5.3f}'.format(x) for x in (...)] — toFixed would give 0.063, 0.313, 0.563, 0.813
  const cases: [number | null, string][] = [
    [0.0625, '0.062'],
    [0.1875, '0.188'],
    [0.3125, '0.312'],
    [0.4375, '0.438'],
    [0.5625, '0.562'],
    [0.6875, '0.688'],
    [0.8125, '0.812'],
    [0.9375, '0.938'],
    [0.0005, '0.001'],
    [0.0015, '0.002'],
    [1 / 3, '0.333'],
    [2 / 3, '0.667'],
    [0.99951, '1.000'],
    [0, '0.000'],
    [null, '  nan'],
    [Number.NaN, '  nan'],
  ];
  assert.deepEqual(
    cases.map(([x]) => formatScore(x)),
    cases.map(([, s]) => s),
  );
});

test('formatEvalTable without instance files: 19 class rows and 7 category rows, nIoU column nan', async () => {
  const result = await evaluateArrays([
    {
      groundTruth: { data: Uint8Array.from([7, 7, 8, 26]), width: 4, height: 1, source: 'gt' },
      prediction: { data: Uint8Array.from([7, 8, 8, 26]), width: 4, height: 1, source: 'pred' },
    },
  ]);
  const lines = formatEvalTable(result).split('\n');
  assert.equal(lines[0], 'classes          IoU      nIoU');
  assert.equal(lines[2], 'road          : 0.500      nan');
  assert.equal(lines[3], 'sidewalk      : 0.500      nan');
  assert.equal(lines[4], 'building      :   nan      nan');
  assert.equal(lines[15], 'car           : 1.000      nan');
  assert.equal(lines[20], 'bicycle       :   nan      nan');
  assert.equal(lines[22], 'Score Average : 0.667      nan');
  assert.equal(lines[25], 'categories       IoU      nIoU');
  assert.equal(lines[27], 'flat          : 1.000      nan');
  assert.equal(lines[33], 'vehicle       : 1.000      nan');
  assert.equal(lines[35], 'Score Average : 1.000      nan');
  assert.equal(lines.length, 38);
});
