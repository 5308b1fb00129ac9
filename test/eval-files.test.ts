import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import {
  CityscapesNameError,
  DuplicatePredictionError,
  InvalidLabelIdError,
  MissingInstanceFileError,
  MissingPredictionError,
  NoGroundTruthError,
  SizeMismatchError,
  UnsupportedPngError,
} from '../segmentation/eval/errors.js';
import { evaluateDirs } from '../segmentation/eval/evaluate.js';
import { findPrediction, instanceFileFor, parseCityscapesName, readInstanceIdPng, readLabelIdPng } from '../segmentation/eval/files.js';

const root = await mkdtemp(path.join(tmpdir(), 'cityseg-eval-'));
after(() => rm(root, { recursive: true, force: true }));
let caseNumber = 0;

/**
 * Writes a PNG of raw values: one channel as grey (8-bit, or 16-bit from a Uint16Array: sharp infers
 * the depth from the array type), three as RGB. sharp writes sRGB unless told the grey colourspace.
 */
async function writePng(file: string, width: number, values: Uint8Array | Uint16Array, channels: 1 | 3 = 1) {
  await mkdir(path.dirname(file), { recursive: true });
  const height = values.length / width / channels;
  let image = sharp(values, { raw: { width, height, channels } });
  if (channels === 1) image = image.toColourspace(values instanceof Uint16Array ? 'grey16' : 'b-w');
  await image.png().toFile(file);
}

/** A fresh gt/ + pred/ tree; `frames` maps a frame name to gt ids, prediction ids and optional instance ids. */
async function makeCase(
  frames: Record<string, { gt: number[]; pred?: number[]; predWidth?: number; inst?: number[]; predName?: string }>,
  width = 2,
) {
  const dir = path.join(root, `case${++caseNumber}`);
  for (const [frame, { gt, pred, predWidth, inst, predName }] of Object.entries(frames)) {
    const city = frame.split('_')[0];
    await writePng(path.join(dir, 'gt', city, `${frame}_gtFine_labelIds.png`), width, Uint8Array.from(gt));
    if (inst) await writePng(path.join(dir, 'gt', city, `${frame}_gtFine_instanceIds.png`), width, Uint16Array.from(inst));
    if (pred) await writePng(path.join(dir, 'pred', predName ?? `${frame}_pred.png`), predWidth ?? width, Uint8Array.from(pred));
  }
  return { dir, gtDir: path.join(dir, 'gt'), predDir: path.join(dir, 'pred') };
}

const gtFile = (dir: string, frame: string) => path.join(dir, 'gt', frame.split('_')[0], `${frame}_gtFine_labelIds.png`);

test('16-bit instance PNGs are read with their exact values; 8-bit label PNGs too', async () => {
  const values = Uint16Array.from([0, 7, 1000, 1001, 24000, 26001, 33999, 65535]);
  const file = path.join(root, 'inst16.png');
  await writePng(file, 4, values);
  const read = await readInstanceIdPng(file);
  assert.deepEqual([read.width, read.height], [4, 2]);
  assert.deepEqual(Array.from(read.data), Array.from(values));

  const labelsFile = path.join(root, 'labels8.png');
  await writePng(labelsFile, 3, Uint8Array.from([0, 7, 33, 255, 1, 26]));
  const labels = await readLabelIdPng(labelsFile);
  assert.deepEqual(Array.from(labels.data), [0, 7, 33, 255, 1, 26]);
  assert.equal(labels.source, labelsFile);
});

test('palette PNGs are read as their indices (as PIL does), also when packed 4 or 1 bits per pixel', async () => {
  const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/eval/${name}`, import.meta.url));
  const four = await readLabelIdPng(fixture('palette-4bit.png'));
  assert.deepEqual([four.width, four.height, Array.from(four.data)], [3, 2, [0, 7, 13, 1, 2, 15]]);
  const one = await readLabelIdPng(fixture('palette-1bit.png'));
  assert.deepEqual(Array.from(one.data), [0, 1, 1, 1, 0, 1]);
});

test('PNGs that are not one channel of 8-bit ids are rejected, naming the file', async () => {
  const rgb = path.join(root, 'rgb.png');
  await writePng(rgb, 2, Uint8Array.from([7, 7, 7, 8, 8, 8]), 3);
  await assert.rejects(readLabelIdPng(rgb), (e: Error) => e instanceof UnsupportedPngError && e.message === `${rgb}: has 3 channels; expected one channel of ids (grey or palette)`);
  const deep = path.join(root, 'deep.png');
  await writePng(deep, 2, Uint16Array.from([7, 8]));
  await assert.rejects(readLabelIdPng(deep), (e: Error) => e instanceof UnsupportedPngError && e.message.startsWith(`${deep}: is a 16-bit PNG`));
});

test('Cityscapes names: parsed like getCsFileInfo; predictions matched by <city>_<seq>_<frame>*.png', () => {
  assert.deepEqual(parseCityscapesName('/x/aachen_000000_000019_gtFine_labelIds.png'), {
    city: 'aachen',
    sequenceNb: '000000',
    frameNb: '000019',
    type: 'gtFine',
    type2: 'labelIds',
    ext: 'png',
  });
  assert.equal(parseCityscapesName('aachen_000000_000019_leftImg8bit.png').type2, '');
  assert.throws(() => parseCityscapesName('/x/my_city_000000_000019_gtFine_labelIds.png'), (e: Error) => e instanceof CityscapesNameError && /my_city_000000_000019_gtFine_labelIds\.png: found 7 part/.test(e.message));
  const gt = '/gt/aachen/aachen_000000_000019_gtFine_labelIds.png';
  const candidates = ['/p/aachen_000000_000019.png', '/p/aachen_000000_000019_x.jpg', '/p/Aachen_000000_000019_x.png', '/p/aachen_000000_000018_x.png'];
  assert.equal(findPrediction(candidates, gt, '/p'), '/p/aachen_000000_000019.png');
  // cityseg segment's default outputs: the label ids are the prediction.
  const segmented = ['/p/aachen_000000_000019_leftImg8bit_color.png', '/p/aachen_000000_000019_leftImg8bit_labelIds.png', '/p/aachen_000000_000019_leftImg8bit_trainIds.png'];
  assert.equal(findPrediction(segmented, gt, '/p'), '/p/aachen_000000_000019_leftImg8bit_labelIds.png');
  assert.throws(
    () => findPrediction([...segmented, '/p/b/aachen_000000_000019_labelIds.png'], gt, '/p'),
    (e: Error) => e instanceof DuplicatePredictionError && e.message.endsWith(': /p/aachen_000000_000019_leftImg8bit_labelIds.png, /p/b/aachen_000000_000019_labelIds.png'),
  );
  assert.equal(instanceFileFor(gt), '/gt/aachen/aachen_000000_000019_gtFine_instanceIds.png');
});

test('a ground-truth file without prediction fails, naming the ground-truth file', async () => {
  const { dir, gtDir, predDir } = await makeCase({ aachen_000000_000001: { gt: [7, 7], pred: [7, 7] }, aachen_000000_000002: { gt: [7, 7] } });
  await assert.rejects(
    evaluateDirs({ gtDir, predDir }),
    (e: Error) => e instanceof MissingPredictionError && e.message.includes(gtFile(dir, 'aachen_000000_000002')) && e.message.includes('aachen_000000_000002*.png'),
  );
});

test('two matching predictions (in different folders) fail, naming the ground-truth file and both candidates', async () => {
  const { dir, gtDir, predDir } = await makeCase({ bonn_000000_000001: { gt: [7, 7], pred: [7, 7], predName: 'a/bonn_000000_000001_x.png' } });
  await writePng(path.join(predDir, 'b', 'bonn_000000_000001_y.png'), 2, Uint8Array.from([7, 7]));
  await assert.rejects(
    evaluateDirs({ gtDir, predDir }),
    (e: Error) =>
      e instanceof DuplicatePredictionError &&
      e.message.includes(gtFile(dir, 'bonn_000000_000001')) &&
      e.message.includes(path.join(predDir, 'a', 'bonn_000000_000001_x.png')) &&
      e.message.includes(path.join(predDir, 'b', 'bonn_000000_000001_y.png')),
  );
});

test('a prediction of another size fails, naming prediction and ground truth', async () => {
  const { dir, gtDir, predDir } = await makeCase({ ulm_000000_000001: { gt: [7, 7, 7, 7], pred: [7, 7, 7, 7], predWidth: 4 } });
  await assert.rejects(
    evaluateDirs({ gtDir, predDir }),
    (e: Error) =>
      e instanceof SizeMismatchError &&
      e.message === `${path.join(predDir, 'ulm_000000_000001_pred.png')} is 4x1 but its ground truth ${gtFile(dir, 'ulm_000000_000001')} is 2x2`,
  );
});

test('a prediction with an id the script rejects (34, 255) fails, naming the prediction file and the id', async () => {
  for (const bad of [34, 255]) {
    const { gtDir, predDir } = await makeCase({ jena_000000_000001: { gt: [7, 7], pred: [7, bad] } });
    await assert.rejects(
      evaluateDirs({ gtDir, predDir }),
      (e: Error) =>
        e instanceof InvalidLabelIdError &&
        e.message === `prediction ${path.join(predDir, 'jena_000000_000001_pred.png')} contains label id ${bad}, which is not a Cityscapes label id (0..33)`,
    );
  }
});

test('a ground truth id outside the table fails, naming the ground-truth file', async () => {
  const { dir, gtDir, predDir } = await makeCase({ lindau_000000_000001: { gt: [7, 40], pred: [7, 7] } });
  await assert.rejects(
    evaluateDirs({ gtDir, predDir }),
    (e: Error) => e instanceof InvalidLabelIdError && e.message.startsWith(`ground truth ${gtFile(dir, 'lindau_000000_000001')} contains label id 40`),
  );
});

test('instance files: all present → iIoU, none → iIoU null, some → error naming the ground truth without one', async () => {
  const all = await makeCase({
    koeln_000000_000001: { gt: [26, 26], pred: [26, 7], inst: [26001, 26001] },
    koeln_000000_000002: { gt: [24, 7], pred: [24, 7], inst: [24001, 7] },
  });
  const withInstances = await evaluateDirs(all);
  assert.equal(withInstances.iIoU!.car, 0.5, 'car instance: half hit, weights cancel');
  assert.equal(withInstances.iIoU!.person, 1);
  assert.equal(withInstances.mIIoU, 0.75);

  const none = await makeCase({ koeln_000000_000001: { gt: [26, 26], pred: [26, 7] } });
  const withoutInstances = await evaluateDirs(none);
  assert.equal(withoutInstances.iIoU, null);
  assert.equal(withoutInstances.categoryIIoU, null);
  assert.equal(withoutInstances.classIoU.car, 0.5);

  const some = await makeCase({
    koeln_000000_000001: { gt: [26, 26], pred: [26, 7], inst: [26001, 26001] },
    koeln_000000_000002: { gt: [7, 7], pred: [7, 7] },
  });
  const missingGt = gtFile(some.dir, 'koeln_000000_000002');
  await assert.rejects(
    evaluateDirs(some),
    (e: Error) => e instanceof MissingInstanceFileError && e.message === `ground truth ${missingGt} has no instance file ${instanceFileFor(missingGt)}, but other ground-truth images do`,
  );
});

test('an instance file of another size fails, naming it', async () => {
  const { dir, gtDir, predDir } = await makeCase({ erfurt_000000_000001: { gt: [26, 26], pred: [26, 26] } });
  const instanceFile = instanceFileFor(gtFile(dir, 'erfurt_000000_000001'));
  await writePng(instanceFile, 1, Uint16Array.from([26001, 26001]));
  await assert.rejects(
    evaluateDirs({ gtDir, predDir }),
    (e: Error) => e instanceof SizeMismatchError && e.message.startsWith(`${instanceFile} is 1x2 but its ground truth`),
  );
});

test('an empty ground-truth folder fails, naming it', async () => {
  const dir = path.join(root, 'empty');
  await mkdir(dir, { recursive: true });
  await assert.rejects(evaluateDirs({ gtDir: dir, predDir: dir }), (e: Error) => e instanceof NoGroundTruthError && e.message.includes(dir));
});
