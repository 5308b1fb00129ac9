import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { AVG_CLASS_SIZE, CITYSCAPES_LABELS } from '../segmentation/eval/cityscapes-facts.js';
import {
  EVALUATED_CATEGORIES,
  EVALUATED_CLASSES,
  INSTANCE_CATEGORIES,
  INSTANCE_CLASSES,
  MATRIX_LABEL_IDS,
  MATRIX_SIZE,
} from '../segmentation/eval/label-sets.js';

// A copy of the official labels.py table (shared/cityscapes-labels.csv), so the test needs nothing outside the repo.
const CSV = readFileSync(new URL('./fixtures/eval/cityscapes-labels.csv', import.meta.url), 'utf8');

function parseCsv(text: string): Record<string, string>[] {
  const [header, ...rows] = text.trim().split('\n');
  const keys = header.split(',');
  return rows.map((row) => Object.fromEntries(row.split(',').map((value, i) => [keys[i], value])));
}

const bool = (value: string) => {
  assert.ok(value === 'True' || value === 'False', `boolean column holds ${value}`);
  return value === 'True';
};

test('every label fact equals the official table, row by row and in order', () => {
  const rows = parseCsv(CSV);
  assert.equal(rows.length, 35);
  assert.equal(CITYSCAPES_LABELS.length, rows.length);
  rows.forEach((row, i) => {
    assert.deepEqual(
      { ...CITYSCAPES_LABELS[i] },
      {
        name: row.name,
        id: Number(row.id),
        trainId: Number(row.trainId),
        category: row.category,
        catId: Number(row.catId),
        hasInstances: bool(row.hasInstances),
        ignoreInEval: bool(row.ignoreInEval),
      },
      `row ${i} (${row.name})`,
    );
  });
});

test('avgClassSize covers exactly the labels with instances, with the script values', () => {
  const withInstances = parseCsv(CSV)
    .filter((r) => bool(r.hasInstances))
    .map((r) => r.name)
    .sort();
  assert.deepEqual(Object.keys(AVG_CLASS_SIZE).sort(), withInstances);
  assert.equal(AVG_CLASS_SIZE.person, 3462.4756337644);
  assert.equal(AVG_CLASS_SIZE.train, 67583.7075812274);
});

test('derived sets: 34 matrix ids, 19 classes, 8 instance classes, 7 categories, human and vehicle for iIoU', () => {
  assert.equal(MATRIX_SIZE, 34);
  assert.deepEqual(MATRIX_LABEL_IDS, Array.from({ length: 34 }, (_, i) => i));
  assert.deepEqual(
    EVALUATED_CLASSES.map((l) => l.trainId),
    Array.from({ length: 19 }, (_, i) => i),
  );
  assert.deepEqual(
    INSTANCE_CLASSES.map((l) => l.name),
    ['person', 'rider', 'car', 'truck', 'bus', 'train', 'motorcycle', 'bicycle'],
  );
  assert.deepEqual(
    EVALUATED_CATEGORIES.map((c) => [c.name, c.labelIds]),
    [
      ['flat', [7, 8]],
      ['construction', [11, 12, 13]],
      ['object', [17, 19, 20]],
      ['nature', [21, 22]],
      ['sky', [23]],
      ['human', [24, 25]],
      ['vehicle', [26, 27, 28, 31, 32, 33]],
    ],
  );
  // caravan (29) and trailer (30) stay in the iIoU category: the script's generateInstanceStats keeps them
  assert.deepEqual(
    INSTANCE_CATEGORIES.map((c) => [c.name, c.labelIds]),
    [
      ['human', [24, 25]],
      ['vehicle', [26, 27, 28, 29, 30, 31, 32, 33]],
    ],
  );
});
