/**
 * The package that ships, used as a user uses it: `npm pack` on a fresh copy of the sources (its `prepare` script
 * builds dist/), the tarball installed into an empty folder with production dependencies only, then the installed
 * `cityseg` binary and the `cityseg` import. One pack and one install serve every subtest (about a minute or two).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { decode as decodePng } from 'fast-png';
import { cityscapes } from '../segmentation/labels/index.js';
import { rampImage, tempDir } from './cli-helpers.js';
import { nugetUnreachable, packFreshClone, sh, startInstalledServer } from './package-helpers.js';

/** What npm says about our .npmrc's key, which it passes on to install scripts but does not know itself. */
const UNKNOWN_PROJECT_CONFIG = /^npm warn Unknown project config "onnxruntime-node-install".*\n/gm;

describe('the npm package', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let app: string;
  let packStderr: string;
  let packedFiles: string[];
  let image: string;

  before(async () => {
    ({ dir, cleanup } = await tempDir('package'));
    const packed = await packFreshClone(dir);
    packStderr = packed.stderr;
    packedFiles = packed.files;

    app = path.join(dir, 'app');
    await mkdir(app);
    // A user's install: npm's defaults, no ONNXRUNTIME_NODE_INSTALL. Where npm runs onnxruntime-node's postinstall, its
    // CUDA fetch fails as offline (NuGet unreachable) and npm drops that optional dependency; cityseg then runs
    // TensorFlow.js (package-offline.test.ts asserts that path under npm 10).
    await sh('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', packed.tarball], app, await nugetUnreachable());
    image = path.join(dir, 'street.png');
    await rampImage(90, 50).png().toFile(image);
  });
  after(() => cleanup());

  it('npm pack builds dist/ and ships it without tests, fixtures or TypeScript sources, and warns about nothing', () => {
    assert.doesNotMatch(packStderr.replace(UNKNOWN_PROJECT_CONFIG, ''), /npm warn/i);
    for (const file of ['package.json', 'README.md', 'bin/cityseg.js', 'dist/index.js', 'dist/cli/main.js', 'dist/server/main.js', 'dist/server/inference-worker.js', 'dist/server/frame-worker.js', 'public/index.html']) {
      assert.ok(packedFiles.includes(file), `${file} missing from the tarball`);
    }
    const unwanted = packedFiles.filter((file) => file.startsWith('dist/test/') || file.includes('fixtures') || /\.ts$/.test(file) || file.startsWith('test/'));
    assert.deepEqual(unwanted, []);
  });

  it('npx cityseg --help lists the commands', async () => {
    const help = await sh('npx', ['cityseg', '--help'], app);
    for (const command of ['segment', 'classify', 'eval', 'serve', 'logits', 'bench', 'export-onnx']) {
      assert.match(help.stdout, new RegExp(`^  ${command} `, 'm'));
    }
  });

  it('cityseg segment writes the default label-id and colour masks at the image size', async () => {
    const out = path.join(dir, 'masks');
    const segment = await sh(path.join(app, 'node_modules', '.bin', 'cityseg'), ['segment', '--out', out, image], app, { CITYSEG_INFERENCE_SIZE: '64' });
    assert.match(segment.stderr, /--weights none: lraspp_mobilenet_v3_large is untrained/);
    assert.deepEqual((await readdir(out)).sort(), ['street_color.png', 'street_labelIds.png']);
    const labelIds = decodePng(await readFile(path.join(out, 'street_labelIds.png')));
    assert.deepEqual([labelIds.width, labelIds.height, labelIds.channels, labelIds.depth], [90, 50, 1, 8]);
  });

  it('cityseg serve starts, answers /readyz 200, and exits 0 on SIGTERM', async () => {
    const { server, status, logs } = await startInstalledServer(app);
    const exited = once(server, 'exit');
    try {
      assert.equal(status, 200, logs());
    } finally {
      server.kill('SIGTERM');
    }
    const [code, signal] = await exited;
    assert.deepEqual([code, signal], [0, null], logs());
  });

  it("import 'cityseg': pipeline() loads a model, segments an image file and the masks encode", async () => {
    const script = path.join(app, 'use-api.mjs');
    const labelIdsFile = path.join(dir, 'api_labelIds.png');
    await writeFile(
      script,
      `import { readFile, writeFile } from 'node:fs/promises';
import { encodeColor, encodeLabelIds, pipeline, segmentImage } from 'cityseg';
const [image, out] = process.argv.slice(2);
const seg = await pipeline('segmentation', { weights: 'none', arch: 'lraspp_mobilenet_v3_small' });
try {
  const { classMap, labelSet } = await seg(image, { size: 64 });
  await writeFile(out, await encodeLabelIds(classMap, labelSet));
  const color = await encodeColor(classMap, labelSet);
  const direct = await segmentImage(seg.model.engine, await readFile(image), { size: 64, maxPixels: 1e6 });
  const { width, height, data } = classMap;
  console.log(JSON.stringify({ width, height, classMap: Buffer.from(data).toString('base64'), same: Buffer.from(direct.classMap.data).equals(Buffer.from(data)), labels: labelSet.name, trained: seg.model.weights.trained, colorPng: color.subarray(1, 4).toString() }));
} finally {
  seg.dispose();
}
`,
    );
    const api = JSON.parse((await sh(process.execPath, [script, image, labelIdsFile], app)).stdout);
    assert.deepEqual([api.width, api.height, api.same, api.labels, api.trained, api.colorPng], [90, 50, true, 'cityscapes', false, 'PNG']);
    const classMap = Buffer.from(api.classMap, 'base64');
    assert.equal(classMap.length, 90 * 50);
    // The label-id PNG holds each pixel's Cityscapes id: the class map through the label set's table.
    const labelIds = decodePng(await readFile(labelIdsFile));
    assert.deepEqual([labelIds.width, labelIds.height, labelIds.channels], [90, 50, 1]);
    assert.deepEqual([...labelIds.data], [...classMap].map((index) => cityscapes.classes[index].id));
    // Deep imports stay private: the package's exports map names the entry and package.json only.
    await assert.rejects(sh(process.execPath, ['--input-type=module', '-e', "await import('cityseg/dist/server/config.js')"], app), /ERR_PACKAGE_PATH_NOT_EXPORTED/);
    const manifest = await sh(process.execPath, ['--input-type=module', '-e', "import pkg from 'cityseg/package.json' with { type: 'json' }; console.log(pkg.name)"], app);
    assert.equal(manifest.stdout.trim(), 'cityseg');
  });
});
