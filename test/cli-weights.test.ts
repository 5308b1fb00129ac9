/**
 * Weights by file through the built CLI and server: every form torch writes loads with no --arch or
 * --num-classes and equals torchvision; every contradiction is exit 3 (CLI) / exit 1 (server) with one line;
 * `cityseg weights inspect` describes each form.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readNpy } from '../model/npy.js';
import { fixture, runCli, SERVER_MAIN, tempDir } from './cli-helpers.js';
import { assertMatchesTorch, parityManifest } from './parity-fixtures.js';
import { expectedEmaLogits, expectedLogits, FORMS_DIR, formsManifest, PARITY_IMAGE } from './weights-forms-helpers.js';

const form = (name: string): string => path.join(FORMS_DIR, name);
const SMALL_PARAMETERS = parityManifest.models.find((m) => m.arch === 'lraspp_mobilenet_v3_small')!.parameterCount;

/** Exactly one line on stderr, the CLI's. */
function oneLine(stderr: string): string {
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line expected, got:\n${stderr}`);
  return lines[0];
}

describe('cityseg logits: every checkpoint form, no --arch, no --num-classes', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await tempDir('forms')));
  after(() => cleanup());

  const cases: [string, string[], () => ReturnType<typeof expectedLogits>][] = [
    ['legacy.pth', [], expectedLogits],
    ['dataparallel.pth', [], expectedLogits],
    ['training.pth', [], expectedLogits],
    ['training.pth', ['--weights-key', 'model_ema'], expectedEmaLogits],
  ];
  for (const [file, extra, expected] of cases) {
    it(`${file} ${extra.join(' ')}equals torchvision`, async (t) => {
      const out = path.join(dir, `${file}${extra.length}.npy`);
      const run = await runCli(['logits', '--weights', form(file), ...extra, '--out', out, PARITY_IMAGE]);
      assert.equal(run.code, 0, run.stderr);
      assertMatchesTorch(t, file, readNpy(await readFile(out)), expected());
    });
  }

  it('the EMA entry differs from the model entry by the generator\'s bias shift, so --weights-key matters', () => {
    assert.ok(formsManifest.emaBiasShift.some((shift) => Math.abs(shift) >= 0.25));
  });
});

describe('contradictions and unusable files: exit 3, one line naming both sides', () => {
  const image = PARITY_IMAGE;
  const cases: [string, string[], RegExp][] = [
    ['class count', ['--weights', form('voc21_zeros.pth'), '--num-classes', '19'],
      /^cityseg: .*voc21_zeros\.pth: has 21 classes \(classifier\.low_classifier\.weight is \[21, 24, 1, 1\]\), but 19 classes were given$/],
    ['architecture', ['--weights', form('legacy.pth'), '--arch', 'lraspp_mobilenet_v3_large'],
      /^cityseg: .*legacy\.pth: holds lraspp_mobilenet_v3_small weights, but the architecture given is lraspp_mobilenet_v3_large$/],
    ['task', ['--weights', fixture('parity', 'mobilenet_v3_small.safetensors')],
      /^cityseg: .*mobilenet_v3_small\.safetensors: holds a classification model \(mobilenet_v3_small, 1000 classes\), but a segmentation model \(lraspp_mobilenet_v3_large or lraspp_mobilenet_v3_small or fastseg_mobilev3_large or fastseg_mobilev3_small\) is needed here$/],
    ['backbone only', ['--weights', form('backbone_only.pth')],
      /^cityseg: .*backbone_only\.pth: holds a backbone-only state dict .*the LR-ASPP head classifier\.cbr, classifier\.scale, classifier\.low_classifier, classifier\.high_classifier is missing/],
    ['unknown weights key', ['--weights', form('training.pth'), '--weights-key', 'ema'],
      /^cityseg: .*training\.pth: has no "ema" entry to load \(entries: model, optimizer, lr_scheduler, epoch, args, scaler, model_ema\)$/],
    ['weights key on a bare state dict', ['--weights', form('legacy.pth'), '--weights-key', 'model_ema'],
      /^cityseg: .*legacy\.pth: weights key "model_ema" was asked for, but the file is a bare state dict with no wrapper entries$/],
  ];
  for (const [what, args, message] of cases) {
    it(what, async () => {
      const { dir, cleanup } = await tempDir('mismatch');
      try {
        const run = await runCli(['segment', '--quiet', '--out', dir, ...args, image]);
        assert.equal(run.code, 3, run.stderr);
        assert.match(oneLine(run.stderr), message);
      } finally {
        await cleanup();
      }
    });
  }

  it('a 21-class checkpoint is served with the VOC labels when none are named, and the count is read from it', async () => {
    const { dir, cleanup } = await tempDir('voc');
    try {
      const run = await runCli(['segment', '--quiet', '--format', 'json', '--out', dir, '--weights', form('voc21_zeros.pth'), image]);
      assert.equal(run.code, 0, run.stderr);
      const json = JSON.parse(await readFile(path.join(dir, 'street_64x96.json'), 'utf8')) as { classes: { name: string }[] };
      // Zero weights: every pixel is class 0, VOC's background.
      assert.deepEqual(json.classes.map((c) => c.name), ['background']);
    } finally {
      await cleanup();
    }
  });
});

describe('cityseg weights inspect', () => {
  it('describes a training checkpoint: wrapper keys, format, dtypes, fit, parameters, sha256', async () => {
    const run = await runCli(['weights', 'inspect', form('training.pth')]);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trimEnd().split('\n');
    assert.equal(lines[1], 'format     zip (torch.save, torch >= 1.6)');
    assert.match(lines[3], /^sha256 {5}[0-9a-f]{64}$/);
    assert.equal(lines[4], 'wrapper    model, optimizer, lr_scheduler, epoch, args, scaler, model_ema (training checkpoint; described: model, choose with --weights-key)');
    assert.equal(lines[5], 'tensors    251 (float16 216, int64 35), 2,180,308 bytes');
    assert.equal(lines[6], `parameters ${SMALL_PARAMETERS.toLocaleString('en-US')}`);
    assert.equal(lines[7], 'fits       lraspp_mobilenet_v3_small, 19 classes (segmentation)');
  });

  it('--json, with the EMA entry: prefix removed, n_averaged dropped, legacy and TorchScript formats named', async () => {
    const ema = await runCli(['weights', 'inspect', '--json', '--weights-key', 'model_ema', form('training.pth')]);
    assert.equal(ema.code, 0, ema.stderr);
    const report = JSON.parse(ema.stdout) as Record<string, unknown>;
    const bytes = await readFile(form('training.pth'));
    const { createHash } = await import('node:crypto');
    assert.deepEqual(
      { ...report, source: undefined },
      {
        source: undefined,
        fileBytes: bytes.length,
        sha256: createHash('sha256').update(bytes).digest('hex'),
        format: 'zip',
        wrapperKeys: ['model', 'optimizer', 'lr_scheduler', 'epoch', 'args', 'scaler', 'model_ema'],
        selectedKey: 'model_ema',
        strippedPrefix: 'module.',
        droppedKeys: ['n_averaged'],
        tensorCount: 251,
        tensorBytes: 2_180_308,
        dtypes: { float16: 216, int64: 35 },
        fits: { arch: 'lraspp_mobilenet_v3_small', numClasses: 19, task: 'segmentation' },
        whyNot: null,
        parameterCount: SMALL_PARAMETERS,
      },
    );
    const legacy = JSON.parse((await runCli(['weights', 'inspect', '--json', form('legacy.pth')])).stdout) as { format: string; fits: unknown };
    assert.equal(legacy.format, 'legacy');
    assert.deepEqual(legacy.fits, { arch: 'lraspp_mobilenet_v3_small', numClasses: 19, task: 'segmentation' });
    const script = JSON.parse((await runCli(['weights', 'inspect', '--json', fixture('weights', 'torchscript.pt')])).stdout) as { format: string; fits: unknown; whyNot: string };
    assert.equal(script.format, 'torchscript');
    assert.equal(script.fits, null);
    assert.match(script.whyNot, /not a state dict/);
  });

  it('says why a backbone-only file fits nothing, and exits 3 on an unreadable file', async () => {
    const backbone = await runCli(['weights', 'inspect', form('backbone_only.pth')]);
    assert.equal(backbone.code, 0, backbone.stderr);
    assert.match(backbone.stdout, /^fits {7}nothing: holds a backbone-only state dict/m);
    const missing = await runCli(['weights', 'inspect', form('absent.pth')]);
    assert.equal(missing.code, 3);
    assert.match(oneLine(missing.stderr), /^cityseg: .*absent\.pth: file not found$/);
  });
});

describe('the compiled server and a checkpoint', () => {
  function startServer(env: Record<string, string>) {
    const child = spawn(process.execPath, [SERVER_MAIN], {
      env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', CITYSEG_CLASSIFIER_ARCH: 'none', CITYSEG_INFERENCE_SIZE: '64', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exit = once(child, 'exit').then(([code]) => code as number | null);
    return { child, exit, stdout: () => stdout, stderr: () => stderr };
  }

  it('starts from a 21-class checkpoint with no class count and serves it with the VOC labels', async () => {
    const server = startServer({ CITYSEG_WEIGHTS: form('voc21_zeros.pth') });
    try {
      while (!/"msg":"ready"/.test(server.stdout())) {
        if (server.child.exitCode !== null) assert.fail(`server exited ${server.child.exitCode}: ${server.stderr()}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const base = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(server.stdout())![1];
      const { models } = (await (await fetch(`${base}/v1/models`)).json()) as { models: { arch: string; numClasses: number; href: string }[] };
      assert.equal(models[0].arch, 'lraspp_mobilenet_v3_small');
      assert.equal(models[0].numClasses, 21);
      const card = (await (await fetch(`${base}${models[0].href}`)).json()) as { classes: { name: string }[] };
      assert.equal(card.classes[0].name, 'background');
      assert.equal(card.classes[20].name, 'tvmonitor');
    } finally {
      server.child.kill('SIGTERM');
      await server.exit;
    }
  });

  it('refuses a contradicting CITYSEG_NUM_CLASSES: exit 1, one line naming both counts', async () => {
    const server = startServer({ CITYSEG_WEIGHTS: form('voc21_zeros.pth'), CITYSEG_NUM_CLASSES: '19' });
    assert.equal(await server.exit, 1);
    assert.match(
      oneLine(server.stderr()),
      /^cityseg-server: failed to start: .*voc21_zeros\.pth: has 21 classes \(classifier\.low_classifier\.weight is \[21, 24, 1, 1\]\), but 19 classes were given$/,
    );
  });
});
