import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { IMAGENET_CLASSES } from '../model/imagenet-classes.js';
import { readNpy } from '../model/npy.js';
import { softmax, topK, type TopKEntry } from '../segmentation/postprocess.js';
import { fixture, rampImage, runCli, tempDir } from './cli-helpers.js';

const WEIGHTS = fixture('parity', 'mobilenet_v3_large.pth');

/**
 * torchvision's eval transform of a 256x256 image is its centre 224x224 crop (Resize(256) keeps it,
 * CenterCrop(224) cuts 16 px per side), so this image must classify exactly as torch classified the
 * fixture crop, whose logits scripts/make_fixtures.py saved.
 */
async function paddedStreet(): Promise<Buffer> {
  const street = await sharp(fixture('parity', 'street_224x224.png')).removeAlpha().raw().toBuffer();
  return sharp({ create: { width: 256, height: 256, channels: 3, background: { r: 200, g: 30, b: 90 } } })
    .composite([{ input: street, raw: { width: 224, height: 224, channels: 3 }, left: 16, top: 16 }])
    .png()
    .toBuffer();
}

interface TableRow {
  rank: number;
  probability: number;
  label: string;
  index: number;
}

/** The rows of each image block of the table output, by file. */
function parseTable(stdout: string): Map<string, TableRow[]> {
  const blocks = new Map<string, TableRow[]>();
  let current: TableRow[] = [];
  for (const line of stdout.split('\n')) {
    const row = /^\s+(\d+)\s+(\d\.\d{4})\s+(.+) \((\d+)\)$/.exec(line);
    if (row) current.push({ rank: Number(row[1]), probability: Number(row[2]), label: row[3], index: Number(row[4]) });
    else if (line && !line.startsWith(' ')) blocks.set(line, (current = []));
  }
  return blocks;
}

describe('cityseg classify', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let street: string;
  let ramp: string;
  let torchTop: TopKEntry[];

  before(async () => {
    ({ dir, cleanup } = await tempDir('classify'));
    street = path.join(dir, 'street.png');
    ramp = path.join(dir, 'ramp.jpg');
    await writeFile(street, await paddedStreet());
    await rampImage(150, 100).jpeg().toFile(ramp);
    const logits = readNpy(await readFile(fixture('parity', 'mobilenet_v3_large__street_224x224.npy')));
    torchTop = topK(softmax(logits.data), 5, IMAGENET_CLASSES);
  });
  after(() => cleanup());

  it('--json gives the top 5 classes and probabilities torch gives', async () => {
    const run = await runCli(['classify', '--json', '--weights', WEIGHTS, street]);
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stderr, /untrained/);
    const results = JSON.parse(run.stdout) as { file: string; top: TopKEntry[] }[];
    assert.equal(results.length, 1);
    assert.equal(results[0].file, street);
    assert.deepEqual(results[0].top.map((e) => [e.index, e.label]), torchTop.map((e) => [e.index, e.label]));
    results[0].top.forEach((entry, i) => assert.ok(Math.abs(entry.probability - torchTop[i].probability) < 1e-5, `rank ${i + 1}`));
  });

  it('prints a table of k rows per image, sorted, with probabilities summing to at most 1', async () => {
    const run = await runCli(['classify', '--topk', '3', '--weights', WEIGHTS, street, ramp]);
    assert.equal(run.code, 0, run.stderr);
    const blocks = parseTable(run.stdout);
    assert.deepEqual([...blocks.keys()], [street, ramp]);
    for (const rows of blocks.values()) {
      assert.deepEqual(rows.map((r) => r.rank), [1, 2, 3]);
      for (const row of rows) assert.equal(row.label, IMAGENET_CLASSES[row.index]);
      for (let i = 1; i < rows.length; i++) assert.ok(rows[i - 1].probability >= rows[i].probability);
      assert.ok(rows.reduce((sum, r) => sum + r.probability, 0) <= 1);
    }
    const streetRows = blocks.get(street)!;
    assert.deepEqual(streetRows.map((r) => r.index), torchTop.slice(0, 3).map((e) => e.index));
    // Printed with 4 decimals: within half a unit of the last digit (plus the engine's own difference).
    streetRows.forEach((row, i) => assert.ok(Math.abs(row.probability - torchTop[i].probability) <= 0.00005 + 1e-5, `rank ${i + 1}`));
  });

  it('reports an unreadable image and exits 1 after classifying the others', async () => {
    const missing = path.join(dir, 'missing.jpg');
    const run = await runCli(['classify', '--topk', '1', ramp, missing]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /untrained/);
    assert.match(run.stderr, new RegExp(`^cityseg: ${missing.replaceAll('.', '\\.')}: no such file or directory$`, 'm'));
    assert.equal(parseTable(run.stdout).get(ramp)?.length, 1);
  });
});
