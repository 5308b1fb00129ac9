import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cityscapes, voc } from '../segmentation/labels/index.js';
import { decodeRle } from '../segmentation/rle.js';
import { classStats } from '../segmentation/stats.js';

describe('classStats', () => {
  // 4 wide, 3 high:
  //   13 13  0  0
  //   13 10  0  0
  //  255 10 10  0
  const map = { data: Uint8Array.from([13, 13, 0, 0, 13, 10, 0, 0, 255, 10, 10, 0]), width: 4, height: 3 };

  it('counts each present class, sorted by index, with id, name, colour and fraction of all pixels', () => {
    assert.deepEqual(classStats(map, cityscapes), [
      { index: 0, id: 7, name: 'road', color: [128, 64, 128], pixels: 5, fraction: 5 / 12 },
      { index: 10, id: 23, name: 'sky', color: [70, 130, 180], pixels: 3, fraction: 3 / 12 },
      { index: 13, id: 26, name: 'car', color: [0, 0, 142], pixels: 3, fraction: 3 / 12 },
    ]);
  });

  it('adds pycocotools RLE masks when asked', () => {
    const stats = classStats(map, cityscapes, { rle: true });
    // Column-major walk of the road mask: col0 000, col1 000, col2 110, col3 111 → runs [6, 2, 1, 3]:
    // '6', '2', '1', then 3 - 2 = 1 → '1'.
    assert.deepEqual(stats[0].rle, { size: [3, 4], counts: '6211' });
    // car: col0 110, col1 100, col2 000, col3 000 → runs [0, 2, 1, 1, 8]: '0', '2', '1',
    // 1 - 2 = -1 → 'O' (31 + 48), 8 - 1 = 7 → '7'.
    assert.deepEqual(stats[2].rle, { size: [3, 4], counts: '021O7' });
    for (const s of stats) {
      assert.deepEqual(decodeRle(s.rle!), map.data.map((k) => (k === s.index ? 1 : 0)));
    }
    assert.equal(classStats(map, cityscapes)[0].rle, undefined);
  });

  it('reports nothing for values outside the label set', () => {
    // VOC has 21 classes: 0 (background), 10 (cow), 13 (horse) are present; 255 is not a class.
    assert.deepEqual(classStats(map, voc).map((s) => [s.name, s.pixels]), [['background', 5], ['cow', 3], ['horse', 3]]);
  });
});
