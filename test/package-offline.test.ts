/**
 * The packed package installed offline with npm 10 (what Node 20 and 22 ship), npm's defaults and no
 * ONNXRUNTIME_NODE_INSTALL: onnxruntime-node's postinstall runs, its CUDA fetch from NuGet fails (made unreachable,
 * see nugetUnreachable), npm drops that optional dependency and the install still succeeds. cityseg then runs
 * TensorFlow.js and says so with the one-line fix on every surface; the fix, run offline, brings ONNX Runtime back.
 * npm 10 comes from the registry through npx (CI has the registry); one pack and two installs (a few minutes).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ONNX_FALLBACK_NOTE, ONNX_INSTALL_FIX } from '../model/engines/onnx-available.js';
import { rampImage, tempDir } from './cli-helpers.js';
import { nugetUnreachable, packFreshClone, sh, startInstalledServer } from './package-helpers.js';

const NPM_10 = ['-y', 'npm@10'];
const FIX = ONNX_INSTALL_FIX.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('the npm package installed offline with npm 10 and its defaults', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let app: string;
  let image: string;
  let offline: Record<string, string>;
  let install: { stdout: string; stderr: string };

  const cityseg = (args: string[], env: Record<string, string> = {}) => sh(path.join(app, 'node_modules', '.bin', 'cityseg'), args, app, env);
  const ortInstalled = () => existsSync(path.join(app, 'node_modules', 'onnxruntime-node', 'package.json'));

  before(async () => {
    ({ dir, cleanup } = await tempDir('package-offline'));
    const { tarball } = await packFreshClone(dir);
    app = path.join(dir, 'app');
    await mkdir(app);
    await writeFile(path.join(app, 'package.json'), '{ "name": "app", "version": "1.0.0", "private": true }\n');
    offline = await nugetUnreachable();
    install = await sh('npx', [...NPM_10, 'install', '--no-audit', '--no-fund', '--foreground-scripts', tarball], app, offline);
    image = path.join(dir, 'street.png');
    await rampImage(90, 50).png().toFile(image);
  });
  after(() => cleanup());

  it("succeeds without onnxruntime-node, whose postinstall failed on the CUDA fetch", () => {
    assert.match(install.stdout + install.stderr, /onnxruntime-node@[\d.]+ postinstall/);
    assert.equal(ortInstalled(), false);
    assert.ok(existsSync(path.join(app, 'node_modules', 'cityseg', 'dist', 'cli', 'main.js')));
  });

  it('cityseg segment runs on TensorFlow.js and warns with the fix', async () => {
    const out = path.join(dir, 'masks-tfjs');
    const segment = await cityseg(['segment', '--out', out, image], { CITYSEG_INFERENCE_SIZE: '64' });
    assert.match(segment.stderr, new RegExp(`cityseg: warning: running TensorFlow\\.js .*instead of ONNX Runtime: .*${FIX}`));
    assert.deepEqual((await readdir(out)).sort(), ['street_color.png', 'street_labelIds.png']);
  });

  it('cityseg bench reports the fallback in its rows, its JSON and on stderr', async () => {
    const bench = await cityseg(['bench', '--json', '--model-only', '--arch', 'lraspp_mobilenet_v3_small', '--size', '32x64', '--runs', '1', '--warmup', '1']);
    const report = JSON.parse(bench.stdout) as { versions: Record<string, string>; results: { engine: string; backend: string }[] };
    assert.match(report.versions.onnxruntime_missing, new RegExp(FIX));
    assert.equal(report.versions.onnxruntime, undefined);
    assert.deepEqual(report.results.map((r) => [r.engine, r.backend.endsWith(`(${ONNX_FALLBACK_NOTE})`)]), [['tfjs', true]]);
  });

  it('cityseg segment --engine onnx fails with the fix instead of a module error', async () => {
    await assert.rejects(cityseg(['segment', '--engine', 'onnx', '--out', path.join(dir, 'none'), image]), (err: { code: number; stderr: string }) => {
      assert.notEqual(err.code, 0);
      assert.match(err.stderr, new RegExp(`^cityseg: engine onnx: onnxruntime-node is not installed.*${FIX}$`, 'm'));
      return true;
    });
  });

  it('cityseg serve logs the fallback with the fix and /v1/models names it in backend', async () => {
    const { server, port, status, logs } = await startInstalledServer(app);
    try {
      assert.equal(status, 200, logs());
      const models = (await (await fetch(`http://127.0.0.1:${port}/v1/models`)).json()) as { models: { engine: string; backend: string }[] };
      assert.deepEqual(models.models.map((m) => [m.engine, m.backend.endsWith(`(${ONNX_FALLBACK_NOTE})`)]), [['tfjs', true]]);
      const warning = logs().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { level: number; msg: string }).find((line) => line.msg.includes(ONNX_INSTALL_FIX));
      assert.ok(warning, logs());
      assert.equal(warning.level, 40);
    } finally {
      server.kill('SIGTERM');
    }
  });

  it('the fix, run offline, installs onnxruntime-node without the CUDA fetch, and the warning is gone', async () => {
    const [name, value] = ONNX_INSTALL_FIX.split(' ')[0].split('=');
    assert.equal(name, 'ONNXRUNTIME_NODE_INSTALL');
    await sh('npx', [...NPM_10, ...ONNX_INSTALL_FIX.split(' ').slice(2), '--no-audit', '--no-fund'], app, { ...offline, [name]: value });
    assert.equal(ortInstalled(), true);
    const out = path.join(dir, 'masks-onnx');
    const segment = await cityseg(['segment', '--out', out, image], { CITYSEG_INFERENCE_SIZE: '64' });
    assert.doesNotMatch(segment.stderr, /TensorFlow\.js/);
    const bench = await cityseg(['bench', '--json', '--model-only', '--arch', 'lraspp_mobilenet_v3_small', '--size', '32x64', '--runs', '1', '--warmup', '1']);
    const report = JSON.parse(bench.stdout) as { versions: Record<string, string>; results: { engine: string }[] };
    assert.match(report.versions.onnxruntime, /^\d+\.\d+\.\d+$/);
    assert.deepEqual(report.results.map((r) => r.engine), ['onnx']);
  });
});
