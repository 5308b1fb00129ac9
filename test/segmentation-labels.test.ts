import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ClassCountMismatchError, LabelSetError } from '../segmentation/errors.js';
import {
  CITYSCAPES_LABELS,
  checkClassCount,
  cityscapes,
  labelSetFor,
  parseLabelFile,
  parseLabelFileText,
  voc,
  vocPaletteColor,
} from '../segmentation/labels/index.js';

describe('Cityscapes label table', () => {
  it('has all 35 rows of labels.py with their fields', () => {
    assert.equal(CITYSCAPES_LABELS.length, 35);
    assert.deepEqual(CITYSCAPES_LABELS[0], {
      name: 'unlabeled', id: 0, trainId: 255, category: 'void', catId: 0, hasInstances: false, ignoreInEval: true, color: [0, 0, 0],
    });
    assert.deepEqual(CITYSCAPES_LABELS.find((l) => l.name === 'person'), {
      name: 'person', id: 24, trainId: 11, category: 'human', catId: 6, hasInstances: true, ignoreInEval: false, color: [220, 20, 60],
    });
    assert.deepEqual(CITYSCAPES_LABELS[34], {
      name: 'license plate', id: -1, trainId: -1, category: 'vehicle', catId: 7, hasInstances: false, ignoreInEval: true, color: [0, 0, 142],
    });
    assert.deepEqual(CITYSCAPES_LABELS.slice(0, 34).map((l) => l.id), Array.from({ length: 34 }, (_, i) => i));
    assert.equal(CITYSCAPES_LABELS.filter((l) => l.ignoreInEval).length, 16);
    assert.equal(CITYSCAPES_LABELS.filter((l) => l.hasInstances).length, 10);
  });

  it('the 19 training classes: index = trainId, id = label id, official colours', () => {
    assert.equal(cityscapes.name, 'cityscapes');
    assert.equal(cityscapes.ignoreIndex, 255);
    assert.deepEqual(cityscapes.classes.map((c) => c.index), Array.from({ length: 19 }, (_, i) => i));
    assert.deepEqual(cityscapes.classes.map((c) => c.id), [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33]);
    assert.deepEqual(cityscapes.classes.map((c) => c.name), [
      'road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light', 'traffic sign', 'vegetation', 'terrain',
      'sky', 'person', 'rider', 'car', 'truck', 'bus', 'train', 'motorcycle', 'bicycle',
    ]);
    assert.deepEqual(cityscapes.classes[0], { index: 0, id: 7, name: 'road', color: [128, 64, 128], category: 'flat', categoryId: 1 });
    assert.deepEqual(cityscapes.classes[10].color, [70, 130, 180]);
    assert.deepEqual(cityscapes.classes[18].color, [119, 11, 32]);
  });
});

describe('Pascal VOC label set', () => {
  it('21 classes, background first, tvmonitor last', () => {
    assert.equal(voc.classes.length, 21);
    assert.equal(voc.classes[0].name, 'background');
    assert.equal(voc.classes[15].name, 'person');
    assert.equal(voc.classes[20].name, 'tvmonitor');
    assert.ok(voc.classes.every((c, i) => c.index === i && c.id === i));
  });

  it('colours from the bit-interleaving palette', () => {
    // index bits (b2 b1 b0) go to the top bits of (b, g, r), the next three bits one lower, ...
    // 1 = 0b001 → r 128; 3 = 0b011 → (128,128,0); 15 = 0b001_111 → r 128+64, g 128, b 128;
    // 20 = 0b010_100 → b 128, then g 64; 255 → (128+64+32, 128+64+32, 128+64) = (224,224,192).
    assert.deepEqual(voc.classes.slice(0, 5).map((c) => c.color), [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128]]);
    assert.deepEqual(voc.classes[15].color, [192, 128, 128]);
    assert.deepEqual(voc.classes[20].color, [0, 64, 128]);
    assert.deepEqual(vocPaletteColor(255), [224, 224, 192]);
  });
});

describe('custom label files', () => {
  it('parses name, classes, colours; id defaults to the index', () => {
    const set = parseLabelFile(
      { name: 'lanes', classes: [{ name: 'asphalt', color: [10, 20, 30] }, { name: 'marking', color: [255, 255, 255], id: 42 }] },
      'lanes.json',
    );
    assert.deepEqual(set, {
      name: 'lanes',
      classes: [
        { index: 0, id: 0, name: 'asphalt', color: [10, 20, 30] },
        { index: 1, id: 42, name: 'marking', color: [255, 255, 255] },
      ],
    });
    assert.equal(parseLabelFile({ classes: [{ name: 'a', color: [0, 0, 0] }] }, '/x/my-labels.json').name, 'my-labels');
  });

  const invalid: Array<[string, unknown, RegExp]> = [
    ['not an object', [1, 2], /must be a JSON object/],
    ['no classes', { name: 'x' }, /"classes" must be a non-empty array/],
    ['empty classes', { classes: [] }, /"classes" must be a non-empty array/],
    ['class not an object', { classes: ['road'] }, /classes\[0\] must be an object/],
    ['missing name', { classes: [{ color: [1, 2, 3] }] }, /classes\[0\]\.name must be a non-empty string/],
    ['short colour', { classes: [{ name: 'a', color: [1, 2] }] }, /classes\[0\]\.color must be \[r, g, b\].*got \[1,2\]/],
    ['colour over 255', { classes: [{ name: 'a', color: [1, 2, 3] }, { name: 'b', color: [0, 256, 0] }] }, /classes\[1\]\.color/],
    ['fractional colour', { classes: [{ name: 'a', color: [0.5, 2, 3] }] }, /classes\[0\]\.color/],
    ['id over 255', { classes: [{ name: 'a', color: [1, 2, 3], id: 300 }] }, /classes\[0\]\.id must be an integer 0\.\.255.*got 300/],
    ['misspelt field', { classes: [{ name: 'a', colour: [1, 2, 3] }] }, /classes\[0\] has unknown field\(s\) "colour"/],
    ['unknown top-level field', { classes: [{ name: 'a', color: [1, 2, 3] }], ignore: 255 }, /the file has unknown field\(s\) "ignore"/],
    ['empty name', { name: ' ', classes: [{ name: 'a', color: [1, 2, 3] }] }, /"name" must be a non-empty string/],
    ['257 classes', { classes: Array.from({ length: 257 }, (_, i) => ({ name: `c${i}`, color: [0, 0, 0] })) }, /257 entries, at most 256/],
  ];
  for (const [what, json, message] of invalid) {
    it(`refuses ${what}, naming the file and field`, () => {
      assert.throws(() => parseLabelFile(json, 'bad.json'), (err: unknown) => {
        assert.ok(err instanceof LabelSetError);
        assert.match(err.message, /^label set bad\.json: /);
        assert.match(err.message, message);
        return true;
      });
    });
  }

  it('refuses text that is not JSON', () => {
    assert.throws(() => parseLabelFileText('{"classes": [', 'broken.json'), /label set broken\.json: is not valid JSON/);
  });
});

describe('labelSetFor and checkClassCount', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cityseg-labels-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('returns the built-in sets by name', async () => {
    assert.equal(await labelSetFor('cityscapes'), cityscapes);
    assert.equal(await labelSetFor('voc'), voc);
  });

  it('reads a custom file by path', async () => {
    const path = join(dir, 'two.json');
    await writeFile(path, JSON.stringify({ classes: [{ name: 'a', color: [1, 2, 3] }, { name: 'b', color: [4, 5, 6], id: 9 }] }));
    const set = await labelSetFor(path);
    assert.equal(set.name, 'two');
    assert.deepEqual(set.classes.map((c) => [c.index, c.id, c.name]), [[0, 0, 'a'], [1, 9, 'b']]);
  });

  it('names an unknown set / missing file', async () => {
    const missing = join(dir, 'nope.json');
    await assert.rejects(labelSetFor(missing), (err: unknown) => {
      assert.ok(err instanceof LabelSetError);
      assert.equal(err.message, `label set ${missing}: is neither a built-in label set (cityscapes, voc) nor a readable file (ENOENT)`);
      return true;
    });
  });

  it('checkClassCount passes on equal counts and names both on a mismatch', () => {
    checkClassCount(cityscapes, 19);
    assert.throws(() => checkClassCount(voc, 19), (err: unknown) => {
      assert.ok(err instanceof ClassCountMismatchError);
      assert.equal(err.message, 'label set "voc" has 21 classes but the model outputs 19');
      return true;
    });
  });
});
