import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../segmentation/errors.js';
import { classMapRles, countsToString, decodeRle, encodeRle, maskRuns, stringToCounts } from '../segmentation/rle.js';

/** Row-major mask from rows of 0/1. */
function mask(rows: number[][]): Uint8Array {
  return Uint8Array.from(rows.flat());
}

describe('COCO RLE, hand-computed like pycocotools', () => {
  it('all zeros 2x2: counts [4] → "4"', () => {
    // 4 & 0x1f = 4, no bits left and bit 0x10 clear → one group: 4 + 48 = 52 = '4'.
    assert.deepEqual(encodeRle(mask([[0, 0], [0, 0]]), 2, 2), { size: [2, 2], counts: '4' });
  });

  it('all ones 2x2: counts [0, 4] → "04" (the first run, of zeros, is empty)', () => {
    assert.deepEqual(maskRuns(mask([[1, 1], [1, 1]]), 2, 2), [0, 4]);
    assert.equal(encodeRle(mask([[1, 1], [1, 1]]), 2, 2).counts, '04');
  });

  it('3x3 walked by columns: counts [3, 2, 2, 1, 1] → "322OO"', () => {
    // rows:  0 1 0 / 0 1 1 / 0 0 0. Columns top to bottom: 000 | 110 | 010
    // → 0 0 0 1 1 0 0 1 0 → runs 3, 2, 2, 1, 1.
    // i = 0..2 are written as is: '3' '2' '2'. i = 3: 1 - counts[1] = 1 - 2 = -1; -1 & 0x1f = 31,
    // -1 >> 5 = -1 and bit 0x10 is set, so it is the last group: 31 + 48 = 79 = 'O'.
    // i = 4: 1 - counts[2] = -1 → 'O'.
    const m = mask([[0, 1, 0], [0, 1, 1], [0, 0, 0]]);
    assert.deepEqual(maskRuns(m, 3, 3), [3, 2, 2, 1, 1]);
    assert.deepEqual(encodeRle(m, 3, 3), { size: [3, 3], counts: '322OO' });
  });

  it('10x10, columns 4..9 set: counts [40, 60] → "X1l1" (multi-group counts)', () => {
    // 40: 40 & 31 = 8, 40 >> 5 = 1 → more: 8 | 0x20 = 40 → 'X'; then 1 → '1'.
    // 60: 60 & 31 = 28, 60 >> 5 = 1; 28 has bit 0x10, more since 1 != -1: 28 | 0x20 = 60 → 'l'; then '1'.
    const m = new Uint8Array(100);
    for (let y = 0; y < 10; y++) for (let x = 4; x < 10; x++) m[y * 10 + x] = 1;
    assert.deepEqual(maskRuns(m, 10, 10), [40, 60]);
    assert.equal(encodeRle(m, 10, 10).counts, 'X1l1');
  });

  it('1x109 with counts [5, 100, 3, 1] → "5T33mL" (negative multi-group delta)', () => {
    // 5 → '5'. 100: 100 & 31 = 4, 100 >> 5 = 3 → 4 | 0x20 = 36 → 'T'; 3 → '3'. 3 (i = 2, no delta) → '3'.
    // i = 3: 1 - 100 = -99; -99 & 31 = 29, -99 >> 5 = -4; bit 0x10 set but -4 != -1 → more:
    // 29 | 0x20 = 61 → 'm'; -4 & 31 = 28, -4 >> 5 = -1, bit 0x10 set → last: 28 + 48 = 76 = 'L'.
    const m = new Uint8Array(109);
    m.fill(1, 5, 105);
    m[108] = 1;
    assert.deepEqual(maskRuns(m, 1, 109), [5, 100, 3, 1]);
    assert.equal(encodeRle(m, 1, 109).counts, '5T33mL');
    assert.deepEqual(stringToCounts('5T33mL'), [5, 100, 3, 1]);
  });

  it('countsToString / stringToCounts round-trip large and alternating counts', () => {
    for (const counts of [[0], [1234567], [0, 1, 0, 1], [2097152, 5, 1, 2097151, 33, 0, 65536]]) {
      assert.deepEqual(stringToCounts(countsToString(counts)), counts);
    }
  });
});

describe('decodeRle', () => {
  it('round-trips random masks of odd sizes', () => {
    let seed = 12345;
    const next = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (const [h, w, density] of [[1, 1, 0.5], [7, 3, 0.5], [97, 131, 0.1], [13, 17, 0.9], [5, 8, 0]] as const) {
      const m = Uint8Array.from({ length: h * w }, () => (next() < density ? 1 : 0));
      assert.deepEqual(decodeRle(encodeRle(m, h, w)), m);
    }
  });

  it('refuses counts that do not cover the size, and bad characters', () => {
    assert.throws(() => decodeRle({ size: [2, 3], counts: '4' }), /cover 4 pixels but size 2x3 has 6/);
    assert.throws(() => decodeRle({ size: [2, 2], counts: '4 ' }), InvalidArgumentError);
    assert.throws(() => stringToCounts('X'), /ends inside a count/);
  });
});

describe('classMapRles (one pass over a class map)', () => {
  it('equals encodeRle of each class mask', () => {
    const w = 31;
    const h = 23;
    const data = Uint8Array.from({ length: w * h }, (_, i) => ((i % w) * 3 + Math.floor(i / w) * 5) % 7 === 0 ? 4 : (i % 11) % 3);
    const rles = classMapRles({ data, width: w, height: h });
    assert.deepEqual([...rles.keys()].sort(), [0, 1, 2, 4]);
    for (const [k, rle] of rles) {
      assert.deepEqual(rle, encodeRle(data.map((v) => (v === k ? 1 : 0)), h, w), `class ${k}`);
    }
  });

  it('hand-computed 3x2 map', () => {
    // rows: 5 5 / 7 5 / 7 7 → columns: 5 7 7 | 5 5 7.
    // class 5: 1 0 0 1 1 0 → counts [0, 1, 2, 2, 1] → '0', '1', '2', 2 - 1 = 1 → '1', 1 - 2 = -1 → 'O'.
    // class 7: 0 1 1 0 0 1 → counts [1, 2, 2, 1] → '1', '2', '2', 1 - 2 = -1 → 'O'.
    const rles = classMapRles({ data: Uint8Array.from([5, 5, 7, 5, 7, 7]), width: 2, height: 3 });
    assert.deepEqual(rles.get(5), { size: [3, 2], counts: '0121O' });
    assert.deepEqual(rles.get(7), { size: [3, 2], counts: '122O' });
  });
});
