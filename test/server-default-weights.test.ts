/**
 * The compiled server (dist/server/main.js) with no weights configured: the default presets from a mirror on
 * 127.0.0.1 (trained, origin default-preset), or the seeded init when the mirror cannot be reached (origin fallback,
 * a warning saying why); and a signed weights URL whose query string and credentials appear in no answer or log.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SERVER_MAIN, tempDir, TORCHVISION_ARCH_ENV } from './cli-helpers.js';
import { closedPort, fixtureCheckpoints, sha256Of, startMirror, testPresets, writePresets, type Mirror } from './weights-mirror.js';

interface Started {
  base: string;
  logs: Record<string, unknown>[];
  output: () => string;
  stop: () => Promise<void>;
}

/** Starts the built server with `env` (and nothing of this shell's), resolves once it logs `ready`. */
async function startReady(env: Record<string, string>): Promise<Started> {
  const child = spawn(process.execPath, [SERVER_MAIN], {
    // The test presets are torchvision's files: the default arch is pinned to theirs (fastseg's default has its own tests).
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', CITYSEG_INFERENCE_SIZE: '64', ...TORCHVISION_ARCH_ENV, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const logs = () => text.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  };
  for (;;) {
    if (logs().some((line) => line.msg === 'ready')) break;
    if (child.exitCode !== null) throw new Error(`server exited ${child.exitCode}: ${text}`);
    await sleep(50);
  }
  const listening = logs().find((line) => /^Server listening at /.test(String(line.msg)));
  assert.ok(listening);
  return { base: String(listening.msg).replace('Server listening at ', ''), logs: logs(), output: () => text, stop };
}

let mirror: Mirror;
let dir: string;
let cleanup: () => Promise<void>;
let files: Awaited<ReturnType<typeof fixtureCheckpoints>>;
let presetsFile: string;

before(async () => {
  ({ dir, cleanup } = await tempDir('default-weights'));
  files = await fixtureCheckpoints();
  // The signed URL's route checks that the credentials arrived, as an object store would.
  mirror = await startMirror({
    'lraspp_test.pth': files.segmentation,
    'mobilenet_test.pth': files.classifier,
    'signed.pth': (request, response) => {
      const ok = request.headers.authorization === `Basic ${Buffer.from('svc:pa55').toString('base64')}` && request.url?.includes('sig=SECRET');
      if (ok) response.writeHead(200, { 'content-length': files.segmentation.length }).end(files.segmentation);
      else response.writeHead(403).end();
    },
  });
  presetsFile = await writePresets(dir, testPresets(files));
});
after(async () => {
  await mirror.close();
  await cleanup();
});

describe('the server with no weights configured', () => {
  it('serves the default presets fetched from the mirror, trained, and says so', async () => {
    const server = await startReady({ CITYSEG_TEST_PRESETS: presetsFile, CITYSEG_WEIGHTS_MIRROR: mirror.url, CITYSEG_CACHE_DIR: path.join(dir, 'cache') });
    try {
      const { models } = (await (await fetch(`${server.base}/v1/models`)).json()) as { models: { id: string; numClasses: number; weights: unknown }[] };
      assert.deepEqual(
        models.map(({ id, numClasses, weights }) => ({ id, numClasses, weights })),
        [
          {
            id: 'lraspp_mobilenet_v3_large',
            numClasses: 19,
            weights: { trained: true, source: 'torchvision:lraspp_mobilenet_v3_large.TEST_CITYSCAPES_V1', sha256: sha256Of(files.segmentation), origin: 'default-preset' },
          },
          {
            id: 'mobilenet_v3_large',
            numClasses: 1000,
            weights: { trained: true, source: 'torchvision:mobilenet_v3_large.TEST_IMAGENET_V1', sha256: sha256Of(files.classifier), origin: 'default-preset' },
          },
        ],
      );
      // The classifier preset's transform (232 → 224, as IMAGENET1K_V2's) is the one reported.
      const card = (await (await fetch(`${server.base}/v1/models/mobilenet_v3_large`)).json()) as { preprocessing: Record<string, unknown> };
      assert.deepEqual(card.preprocessing, { resize: 'short side, then centre crop', shortSide: 232, crop: 224, kernel: 'pil-bilinear', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
      const metadata = (await (await fetch(`${server.base}/v2/models/mobilenet_v3_large`)).json()) as { parameters: unknown };
      assert.deepEqual(metadata.parameters, { arch: 'mobilenet_v3_large', task: 'classification', num_classes: 1000, labels: 'imagenet', resize_short_side: 232, crop_size: 224 });
      const segmentation = (await (await fetch(`${server.base}/v2/models/lraspp_mobilenet_v3_large`)).json()) as { parameters: unknown };
      assert.deepEqual(segmentation.parameters, { arch: 'lraspp_mobilenet_v3_large', task: 'segmentation', num_classes: 19, labels: 'cityscapes' });
      const line = server.logs.find((entry) => entry.model === 'lraspp_mobilenet_v3_large');
      assert.equal(line?.msg, 'model lraspp_mobilenet_v3_large ready: trained weights from torchvision:lraspp_mobilenet_v3_large.TEST_CITYSCAPES_V1 (the default)');
      assert.equal(line?.level, 30);
    } finally {
      await server.stop();
    }
  });

  it('falls back to the seeded init when the mirror is unreachable, and says which happened', async () => {
    const unreachable = `http://127.0.0.1:${await closedPort()}/`;
    const server = await startReady({
      CITYSEG_TEST_PRESETS: presetsFile,
      CITYSEG_WEIGHTS_MIRROR: unreachable,
      CITYSEG_CACHE_DIR: path.join(dir, 'cache-offline'),
      CITYSEG_CLASSIFIER_ARCH: 'none',
    });
    try {
      const { models } = (await (await fetch(`${server.base}/v1/models`)).json()) as { models: { numClasses: number; weights: Record<string, unknown> }[] };
      assert.equal(models.length, 1);
      const { weights, numClasses } = models[0];
      assert.equal(numClasses, 19);
      assert.deepEqual({ ...weights, detail: undefined }, { trained: false, source: 'seeded-init:20190506', sha256: null, origin: 'fallback', detail: undefined });
      assert.match(
        String(weights.detail),
        new RegExp(`^the default weights torchvision:lraspp_mobilenet_v3_large\\.TEST_CITYSCAPES_V1 could not be had: ${unreachable}lraspp_test\\.pth: download failed: .*ECONNREFUSED`),
      );
      const line = server.logs.find((entry) => entry.model === 'lraspp_mobilenet_v3_large');
      assert.equal(line?.level, 40, 'an untrained model is a warning');
      assert.equal(line?.weightsOrigin, 'fallback');
      assert.match(String(line?.msg), /^model lraspp_mobilenet_v3_large ready: UNTRAINED \(seeded-init:20190506\): the default weights .* could not be had: .*; its predictions are meaningless: give trained weights with --weights FILE\.pth .*$/);
    } finally {
      await server.stop();
    }
  });
});

describe('a weights URL with credentials', () => {
  it('is fetched with them, and neither /v1/models nor the logs show its query string or userinfo', async () => {
    const signed = `${mirror.url.replace('http://', 'http://svc:pa55@')}signed.pth?sig=SECRET&expires=1`;
    const server = await startReady({ CITYSEG_WEIGHTS: signed, CITYSEG_CLASSIFIER_ARCH: 'none', CITYSEG_CACHE_DIR: path.join(dir, 'cache-signed') });
    try {
      const body = await (await fetch(`${server.base}/v1/models`)).text();
      const { models } = JSON.parse(body) as { models: { weights: Record<string, unknown> }[] };
      assert.deepEqual(models[0].weights, { trained: true, source: `${mirror.url}signed.pth`, sha256: sha256Of(files.segmentation), origin: 'given' });
      for (const secret of ['SECRET', 'pa55', 'svc:']) {
        assert.ok(!body.includes(secret), `/v1/models shows ${secret}`);
        assert.ok(!server.output().includes(secret), `the log shows ${secret}`);
      }
      assert.ok(server.logs.some((line) => line.weightsSource === `${mirror.url}signed.pth`));
    } finally {
      await server.stop();
    }
  });
});
