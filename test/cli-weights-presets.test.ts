/**
 * `cityseg weights list|fetch` and the default weights of `segment` / `classify`, through the built CLI, offline:
 * test presets (CITYSEG_TEST_PRESETS) for the parity fixtures, served by a mirror on 127.0.0.1.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cityscapes } from '../segmentation/labels/index.js';
import { fixture, runCli, tempDir } from './cli-helpers.js';
import { closedPort, fixtureCheckpoints, sha256Of, startMirror, testPresets, writePresets, type Mirror } from './weights-mirror.js';

const SEG = 'torchvision:lraspp_mobilenet_v3_large.TEST_CITYSCAPES_V1';
const IMAGE = fixture('parity', 'street_64x96.png');

let mirror: Mirror;
let dir: string;
let cleanup: () => Promise<void>;
let files: Awaited<ReturnType<typeof fixtureCheckpoints>>;
let presetsFile: string;

/** The env of a run that uses the test presets from the mirror, with no weights set (the default path). */
function defaultEnv(cacheDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    CITYSEG_WEIGHTS: '',
    CITYSEG_CLASSIFIER_WEIGHTS: '',
    CITYSEG_TEST_PRESETS: presetsFile,
    CITYSEG_WEIGHTS_MIRROR: mirror.url,
    CITYSEG_CACHE_DIR: cacheDir,
    ...extra,
  };
}

before(async () => {
  ({ dir, cleanup } = await tempDir('weights-cli'));
  files = await fixtureCheckpoints();
  mirror = await startMirror({ 'lraspp_test.pth': files.segmentation, 'mobilenet_test.pth': files.classifier });
  presetsFile = await writePresets(dir, testPresets(files));
});
after(async () => {
  await mirror.close();
  await cleanup();
});

describe('cityseg weights', () => {
  it('list shows the presets and whether each is cached; fetch fills the cache, verified', async () => {
    const cacheDir = path.join(dir, 'cache-list');
    const before = await runCli(['weights', 'list', '--json'], defaultEnv(cacheDir));
    assert.equal(before.code, 0, before.stderr);
    const listed = JSON.parse(before.stdout) as { name: string; url: string; cached: boolean; numClasses: number; labels: string }[];
    assert.deepEqual(
      listed.map(({ name, url, cached, numClasses, labels }) => ({ name, url, cached, numClasses, labels })),
      [
        { name: SEG, url: `${mirror.url}lraspp_test.pth`, cached: false, numClasses: 19, labels: 'cityscapes' },
        { name: 'torchvision:mobilenet_v3_large.TEST_IMAGENET_V1', url: `${mirror.url}mobilenet_test.pth`, cached: false, numClasses: 1000, labels: 'imagenet' },
      ],
    );

    const fetched = await runCli(['weights', 'fetch', 'torchvision:lraspp_mobilenet_v3_large'], defaultEnv(cacheDir));
    assert.equal(fetched.code, 0, fetched.stderr);
    const cached = path.join(cacheDir, 'weights', 'torchvision', 'lraspp_test.pth');
    assert.equal(fetched.stdout, `${SEG}: ${cached} (sha256 ${sha256Of(files.segmentation)})\n`);

    const table = await runCli(['weights', 'list'], defaultEnv(cacheDir));
    assert.equal(table.code, 0, table.stderr);
    const rows = table.stdout.trim().split('\n');
    assert.match(rows[0], /^name +arch +classes +labels +metrics +cached$/);
    assert.match(rows[1], /^torchvision:lraspp_mobilenet_v3_large\.TEST_CITYSCAPES_V1 \(default\) +lraspp_mobilenet_v3_large +19 +cityscapes +miou 1 \(test\) +yes$/);
    assert.match(rows[2], / no$/);
  });

  it('fetch exits 3 naming both hashes when the file differs, and keeps nothing', async () => {
    const cacheDir = path.join(dir, 'cache-mismatch');
    const wrong = 'cd'.repeat(32);
    const badPresets = path.join(dir, 'bad-presets.json');
    await writeFile(badPresets, JSON.stringify(testPresets(files, { sha256: wrong })));
    const run = await runCli(['weights', 'fetch', SEG], defaultEnv(cacheDir, { CITYSEG_TEST_PRESETS: badPresets }));
    assert.equal(run.code, 3, run.stderr);
    assert.ok(run.stderr.includes(`SHA-256 ${sha256Of(files.segmentation)}, expected ${wrong}; the download was deleted`), run.stderr);
    assert.deepEqual(await readdir(path.join(cacheDir, 'weights', 'torchvision')), []);
  });

  it('fetch exits 3 naming an unwritable cache directory, and 2 for a name that is not a preset', async () => {
    const blocker = path.join(dir, 'not-a-dir');
    await writeFile(blocker, '');
    const run = await runCli(['weights', 'fetch', SEG], defaultEnv(path.join(blocker, 'cache')));
    assert.equal(run.code, 3, run.stderr);
    assert.ok(run.stderr.includes(`cannot write the weights cache directory ${path.join(blocker, 'cache', 'weights', 'torchvision')} (ENOTDIR)`), run.stderr);
    const usage = await runCli(['weights', 'fetch', 'lraspp.pth'], defaultEnv(path.join(dir, 'unused')));
    assert.equal(usage.code, 2, usage.stderr);
    assert.match(usage.stderr, /expected a preset name such as fastseg:mobilev3large-lraspp-f128 or torchvision:lraspp_mobilenet_v3_large, got 'lraspp\.pth'/);
  });
});

describe('default weights of segment and classify', () => {
  it('segment without --weights runs the default preset from the mirror: the masks of that checkpoint', async () => {
    const cacheDir = path.join(dir, 'cache-segment');
    const [viaDefault, viaFile] = [path.join(dir, 'out-default'), path.join(dir, 'out-file')];
    const run = await runCli(['segment', '--format', 'labelIds', '--out', viaDefault, IMAGE], defaultEnv(cacheDir));
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, new RegExp(`^cityseg: lraspp_mobilenet_v3_large: default weights ${SEG.replace(/\./g, '\\.')}$`, 'm'));
    assert.doesNotMatch(run.stderr, /untrained/);
    const reference = await runCli(['segment', '--format', 'labelIds', '--weights', fixture('parity', 'lraspp_mobilenet_v3_large.pth'), '--out', viaFile, IMAGE]);
    assert.equal(reference.code, 0, reference.stderr);
    assert.deepEqual(await readFile(path.join(viaDefault, 'street_64x96_labelIds.png')), await readFile(path.join(viaFile, 'street_64x96_labelIds.png')));
    assert.equal(cityscapes.classes.length, 19, 'the test preset is a 19-class Cityscapes model');
  });

  it("classify without --weights runs the default preset with its transform (232 → 224) and says so", async () => {
    const run = await runCli(['classify', '--json', IMAGE], defaultEnv(path.join(dir, 'cache-classify')));
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /^cityseg: mobilenet_v3_large: default weights torchvision:mobilenet_v3_large\.TEST_IMAGENET_V1, resize 232 → crop 224$/m);
    const [{ top }] = JSON.parse(run.stdout) as { top: unknown[] }[];
    assert.equal(top.length, 5);
  });

  it('segment falls back to the untrained model, with a warning, when the mirror cannot be reached', async () => {
    const unreachable = `http://127.0.0.1:${await closedPort()}/`;
    const run = await runCli(
      ['segment', '--format', 'labelIds', '--out', path.join(dir, 'out-offline'), IMAGE],
      defaultEnv(path.join(dir, 'cache-offline'), { CITYSEG_WEIGHTS_MIRROR: unreachable }),
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stderr,
      new RegExp(
        `^cityseg: warning: the default weights ${SEG.replace(/\./g, '\\.')} could not be had: ${unreachable}lraspp_test\\.pth: download failed: .*ECONNREFUSED.*: lraspp_mobilenet_v3_large is untrained \\(seeded-init:\\d+\\), its outputs are meaningless; give trained weights with --weights FILE\\.pth .*$`,
        'm',
      ),
    );
  });

  it('a preset that contradicts the flags is exit 3 naming both values', async () => {
    const env = defaultEnv(path.join(dir, 'cache-contradiction'));
    const classes = await runCli(['segment', '--weights', SEG, '--num-classes', '21', '--labels', 'voc', '--out', path.join(dir, 'o'), IMAGE], env);
    assert.equal(classes.code, 3, classes.stderr);
    assert.match(classes.stderr, /^cityseg: torchvision:lraspp_mobilenet_v3_large\.TEST_CITYSCAPES_V1: does not fit the model asked for: it has 19 classes, not 21$/m);
    const task = await runCli(['classify', '--weights', 'torchvision:lraspp_mobilenet_v3_large', IMAGE], env);
    assert.equal(task.code, 3, task.stderr);
    assert.match(task.stderr, /does not fit the model asked for: it is a segmentation model, not a classification one/);
  });
});
