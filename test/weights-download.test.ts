/**
 * Weights downloads through the real resolver against servers on 127.0.0.1: presets from a mirror verified by their
 * full SHA-256 and size (both ways), and the download bounds: a server that stalls, trickles or never ends fails
 * within its limit and leaves no `.part` file; stale `.part` files go; an unwritable cache names its directory.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { WeightsError } from '../model/weights/errors.js';
import { findPreset, presetUrl, TORCHVISION_PRESETS, type WeightsPreset } from '../model/weights/presets.js';
import { redactUrl } from '../model/weights/redact.js';
import { presetCachePath, resolveWeights } from '../model/weights/source.js';
import { tempDir } from './cli-helpers.js';
import { sha256Of, startMirror, tinyCheckpoint, type Mirror } from './weights-mirror.js';

const BODY = Buffer.from('not really a checkpoint, but bytes with a known hash');
/** What a plain URL (no hash to check it by) must serve: a file that reads as a checkpoint. */
const CHECKPOINT = tinyCheckpoint();

function preset(overrides: Partial<WeightsPreset> = {}): WeightsPreset {
  return {
    name: 'torchvision:mobilenet_v3_small.TEST_V1',
    arch: 'mobilenet_v3_small',
    variant: 'TEST_V1',
    isDefault: true,
    file: 'small-test.pth',
    sha256: sha256Of(BODY),
    bytes: BODY.length,
    numClasses: 1000,
    labels: 'imagenet',
    preprocessing: { resizeShortSide: 256, cropSize: 224 },
    metrics: { dataset: 'test', values: {} },
    ...overrides,
  };
}

/** Every file under `dir`, relative, sorted. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name))).sort();
}

async function withMirror<T>(routes: Parameters<typeof startMirror>[0], fn: (mirror: Mirror, cacheDir: string) => Promise<T>): Promise<T> {
  const mirror = await startMirror(routes);
  const { dir, cleanup } = await tempDir('download');
  try {
    return await fn(mirror, dir);
  } finally {
    await mirror.close();
    await cleanup();
  }
}

async function rejectsWith(promise: Promise<unknown>, pattern: RegExp): Promise<WeightsError> {
  const error = await promise.then(() => assert.fail('expected a WeightsError'), (e: unknown) => e);
  assert.ok(error instanceof WeightsError, `expected a WeightsError, got ${String(error)}`);
  assert.match(error.message, pattern);
  return error;
}

describe('torchvision presets', () => {
  it("carry torchvision's facts for LR-ASPP Large and name MobileNetV3's defaults", () => {
    const lraspp = findPreset('torchvision:lraspp_mobilenet_v3_large', TORCHVISION_PRESETS);
    assert.equal(lraspp.name, 'torchvision:lraspp_mobilenet_v3_large.COCO_WITH_VOC_LABELS_V1');
    assert.equal(presetUrl(lraspp), 'https://download.pytorch.org/models/lraspp_mobilenet_v3_large-d234d4ea.pth');
    assert.equal(lraspp.sha256, 'd234d4eae9d55d5f76de18b77cf0dc62c66fe5c5482758209d00f950c92bb280');
    assert.equal(lraspp.bytes, 13_097_061);
    assert.deepEqual([lraspp.numClasses, lraspp.labels, lraspp.preprocessing], [21, 'voc', { resizeShortSide: 520 }]);
    assert.deepEqual(lraspp.metrics?.values, { miou: 57.9, pixel_acc: 91.2 });
    assert.equal(findPreset('torchvision:mobilenet_v3_large', TORCHVISION_PRESETS).variant, 'IMAGENET1K_V2');
    assert.deepEqual(findPreset('torchvision:mobilenet_v3_large.IMAGENET1K_V1', TORCHVISION_PRESETS).metrics?.values, { 'acc@1': 74.042, 'acc@5': 91.34 });
    assert.equal(presetUrl(findPreset('torchvision:mobilenet_v3_small', TORCHVISION_PRESETS)), 'https://download.pytorch.org/models/mobilenet_v3_small-047dcff4.pth');
    assert.equal(presetUrl(lraspp, 'http://mirror.internal/tv'), 'http://mirror.internal/tv/lraspp_mobilenet_v3_large-d234d4ea.pth');
  });

  it('refuse an unknown name, listing the known ones', () => {
    assert.throws(() => findPreset('torchvision:lraspp_mobilenet_v3_small', TORCHVISION_PRESETS), /torchvision:lraspp_mobilenet_v3_small: no such preset; known: torchvision:lraspp_mobilenet_v3_large\.COCO_WITH_VOC_LABELS_V1, /);
  });
});

describe('redactUrl', () => {
  it('drops userinfo, query string and fragment from URLs and leaves paths and names alone', () => {
    assert.equal(redactUrl('https://user:pa55@bucket.example/w/x.pth?X-Amz-Signature=secret&X-Amz-Credential=k#frag'), 'https://bucket.example/w/x.pth');
    assert.equal(redactUrl('http://127.0.0.1:9/x.pth?token=secret'), 'http://127.0.0.1:9/x.pth');
    assert.equal(redactUrl('/weights/x.pth'), '/weights/x.pth');
    assert.equal(redactUrl('torchvision:mobilenet_v3_large'), 'torchvision:mobilenet_v3_large');
    assert.equal(redactUrl('seeded-init:0'), 'seeded-init:0');
  });
});

describe('preset downloads from a mirror', () => {
  it('fetch once into the cache, verified by the full SHA-256, then reuse the file', async () => {
    await withMirror({ 'small-test.pth': BODY }, async (mirror, cacheDir) => {
      const presets = [preset()];
      const first = await resolveWeights('torchvision:mobilenet_v3_small', { cacheDir, mirror: mirror.url, presets });
      assert.equal(first.path, presetCachePath(presets[0], cacheDir));
      assert.equal(first.source, 'torchvision:mobilenet_v3_small.TEST_V1');
      assert.equal(first.sha256, sha256Of(BODY));
      assert.deepEqual(await readFile(first.path), BODY);
      const second = await resolveWeights('torchvision:mobilenet_v3_small.TEST_V1', { cacheDir, mirror: mirror.url, presets });
      assert.equal(second.path, first.path);
      assert.deepEqual(mirror.requests, ['small-test.pth'], 'the second resolve is a cache hit');
      assert.deepEqual(await filesUnder(cacheDir), ['weights/torchvision/small-test.pth']);
    });
  });

  it('delete a download whose SHA-256 differs and name both hashes', async () => {
    const expected = 'ab'.repeat(32);
    await withMirror({ 'small-test.pth': BODY }, async (mirror, cacheDir) => {
      const error = await rejectsWith(
        resolveWeights('torchvision:mobilenet_v3_small', { cacheDir, mirror: mirror.url, presets: [preset({ sha256: expected })] }),
        /deleted/,
      );
      assert.ok(error.message.includes(`SHA-256 ${sha256Of(BODY)}, expected ${expected}`), error.message);
      assert.deepEqual(await filesUnder(cacheDir), []);
    });
  });

  it("refetch a cached file that no longer matches, and stop a download at the preset's byte count", async () => {
    await withMirror({ 'small-test.pth': BODY }, async (mirror, cacheDir) => {
      const presets = [preset()];
      const cached = presetCachePath(presets[0], cacheDir);
      await mkdir(path.dirname(cached), { recursive: true });
      await writeFile(cached, 'corrupted');
      assert.deepEqual(await readFile((await resolveWeights('torchvision:mobilenet_v3_small', { cacheDir, mirror: mirror.url, presets })).path), BODY);
      await rejectsWith(
        resolveWeights('torchvision:mobilenet_v3_small', { cacheDir: path.join(cacheDir, 'b'), mirror: mirror.url, presets: [preset({ bytes: 10 })] }),
        new RegExp(`${BODY.length} bytes announced, over the limit of 10 bytes`),
      );
    });
  });
});

describe('download bounds', () => {
  const limits = { connectTimeoutMs: 2000, idleTimeoutMs: 300, deadlineMs: 1500, maxBytes: 64 * 1024 };

  it('a server that never answers fails at the idle timeout, leaving nothing', async () => {
    await withMirror({ 'stall.pth': () => undefined }, async (mirror, cacheDir) => {
      await rejectsWith(resolveWeights(`${mirror.url}stall.pth`, { cacheDir, limits }), /download failed: no data for 300 ms \(idle timeout\)/);
      assert.deepEqual(await filesUnder(cacheDir), []);
    });
  });

  it('a body that stalls after its first bytes fails at the idle timeout and its .part is removed', async () => {
    const route = (_: unknown, response: import('node:http').ServerResponse) => {
      response.writeHead(200, { 'content-length': 1000 });
      response.write(Buffer.alloc(10));
    };
    await withMirror({ 'half.pth': route }, async (mirror, cacheDir) => {
      await rejectsWith(resolveWeights(`${mirror.url}half.pth`, { cacheDir, limits }), /download interrupted after 10 bytes: no data for 300 ms \(idle timeout\)/);
      assert.deepEqual(await filesUnder(cacheDir), []);
    });
  });

  it('a server that trickles a byte at a time forever is stopped by the overall deadline', async () => {
    const timers: NodeJS.Timeout[] = [];
    const route = (_: unknown, response: import('node:http').ServerResponse) => {
      response.writeHead(200);
      timers.push(setInterval(() => response.write('x'), 50));
    };
    try {
      await withMirror({ 'trickle.pth': route }, async (mirror, cacheDir) => {
        await rejectsWith(resolveWeights(`${mirror.url}trickle.pth`, { cacheDir, limits }), /not finished within the 1500 ms deadline/);
        assert.deepEqual(await filesUnder(cacheDir), []);
      });
    } finally {
      for (const timer of timers) clearInterval(timer);
    }
  });

  it('a body that never ends is cut at the size cap; an announced size over the cap is refused unread', async () => {
    let stop = false;
    const endless = (_: unknown, response: import('node:http').ServerResponse) => {
      response.writeHead(200);
      const chunk = Buffer.alloc(16 * 1024);
      const pump = () => {
        while (!stop && response.write(chunk));
        if (!stop) response.once('drain', pump);
      };
      response.on('close', () => (stop = true));
      pump();
    };
    const announced = (_: unknown, response: import('node:http').ServerResponse) => {
      response.writeHead(200, { 'content-length': 10 ** 9 });
      response.write('x');
    };
    try {
      await withMirror({ 'endless.pth': endless, 'big.pth': announced }, async (mirror, cacheDir) => {
        await rejectsWith(resolveWeights(`${mirror.url}endless.pth`, { cacheDir, limits }), /download stopped: more than the limit of 65536 bytes/);
        await rejectsWith(resolveWeights(`${mirror.url}big.pth`, { cacheDir, limits }), /download refused: 1000000000 bytes announced, over the limit of 65536 bytes/);
        assert.deepEqual(await filesUnder(cacheDir), []);
      });
    } finally {
      stop = true;
    }
  });

  it('stale .part files of the same file are removed, fresh ones (a download in progress) are kept', async () => {
    await withMirror({ 'small-test.pth': BODY }, async (mirror, cacheDir) => {
      const presets = [preset()];
      const dir = path.dirname(presetCachePath(presets[0], cacheDir));
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, 'small-test.pth.111-old.part'), 'killed download');
      await writeFile(path.join(dir, 'small-test.pth.222-new.part'), 'running download');
      const hourAgo = new Date(Date.now() - 3600_000);
      await utimes(path.join(dir, 'small-test.pth.111-old.part'), hourAgo, hourAgo);
      await resolveWeights('torchvision:mobilenet_v3_small', { cacheDir, mirror: mirror.url, presets, limits });
      assert.deepEqual(await filesUnder(dir), ['small-test.pth', 'small-test.pth.222-new.part']);
    });
  });

  it('an unwritable cache directory is a WeightsError naming it', async () => {
    await withMirror({ 'small-test.pth': BODY }, async (mirror, dir) => {
      const blocker = path.join(dir, 'a-file');
      await writeFile(blocker, '');
      const cacheDir = path.join(blocker, 'cache');
      await rejectsWith(
        resolveWeights('torchvision:mobilenet_v3_small', { cacheDir, mirror: mirror.url, presets: [preset()] }),
        new RegExp(`cannot write the weights cache directory ${cacheDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/weights/torchvision \\(ENOTDIR\\)`),
      );
    });
  });

  it('a URL with credentials authenticates with them; errors show it without them or its query string', async () => {
    const authorizations: (string | undefined)[] = [];
    const route = (request: import('node:http').IncomingMessage, response: import('node:http').ServerResponse) => {
      authorizations.push(request.headers.authorization);
      response.writeHead(200, { 'content-length': CHECKPOINT.length }).end(CHECKPOINT);
    };
    await withMirror({ 'signed.pth': route }, async (mirror, cacheDir) => {
      const withCredentials = (name: string) => `${mirror.url.replace('http://', 'http://alice:hunter%402@')}${name}?X-Amz-Signature=topsecret`;
      const resolved = await resolveWeights(withCredentials('signed.pth'), { cacheDir, limits });
      assert.equal(resolved.source, `${mirror.url}signed.pth`);
      assert.deepEqual(authorizations, [`Basic ${Buffer.from('alice:hunter@2').toString('base64')}`]);
      const error = await rejectsWith(resolveWeights(withCredentials('missing.pth'), { cacheDir, limits }), /download failed: HTTP 404/);
      assert.equal(error.message, `${mirror.url}missing.pth: download failed: HTTP 404 Not Found`);
    });
  });
});
