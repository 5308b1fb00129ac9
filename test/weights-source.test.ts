/** resolveWeights against a local HTTP server: caching, torch.hub-style hash checks, HTTP errors, cache dirs. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir, homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { WeightsError } from '../model/weights/errors.js';
import { defaultCacheDir, hashPrefixOf, resolveWeights } from '../model/weights/source.js';
import { tinyCheckpoint } from './weights-mirror.js';

const body = tinyCheckpoint(70_000);
const sha256 = createHash('sha256').update(body).digest('hex');

let server: Server;
let base: string;
let cacheDir: string;
const requests: string[] = [];

async function expectWeightsError(promise: Promise<unknown>, message: string | RegExp): Promise<WeightsError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof WeightsError, `expected a WeightsError, got ${String(error)}`);
    if (typeof message === 'string') assert.equal(error.message, message);
    else assert.match(error.message, message);
    return error;
  }
  return assert.fail('resolveWeights succeeded');
}

/** Every file under dir, relative, so tests can assert nothing was left behind. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? e.path, e.name).slice(dir.length + 1));
}

before(async () => {
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (req.url?.startsWith('/weights/')) {
      res.writeHead(200, { 'content-length': body.length });
      res.end(body);
    } else if (req.url === '/cut.pth') {
      res.writeHead(200, { 'content-length': body.length });
      res.write(body.subarray(0, 1000), () => res.destroy());
    } else {
      res.writeHead(404);
      res.end('no such file');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => new Promise<void>((resolve) => server.close(() => resolve())));

beforeEach(async () => {
  requests.length = 0;
  cacheDir = await mkdtemp(join(tmpdir(), 'cityseg-weights-'));
});

afterEach(() => rm(cacheDir, { recursive: true, force: true }));

describe('resolveWeights: URLs', () => {
  it('downloads once into the cache dir and serves the second call from it', async () => {
    const url = `${base}/weights/model.pth`;
    const first = await resolveWeights(url, { cacheDir });
    assert.equal(first.sha256, sha256);
    assert.equal(first.source, url);
    assert.ok(first.path.startsWith(cacheDir + '/'), first.path);
    assert.ok(first.path.endsWith('/model.pth'));
    assert.deepEqual(await readFile(first.path), body);
    const second = await resolveWeights(url, { cacheDir });
    assert.deepEqual(second, first);
    assert.deepEqual(requests, ['/weights/model.pth']);
    assert.deepEqual(await filesUnder(cacheDir), [first.path.slice(cacheDir.length + 1)]);
  });

  it('keeps two URLs with the same file name apart', async () => {
    const a = await resolveWeights(`${base}/weights/a/model.pth`, { cacheDir });
    const b = await resolveWeights(`${base}/weights/b/model.pth`, { cacheDir });
    assert.notEqual(a.path, b.path);
    assert.equal(requests.length, 2);
  });

  it('accepts a file whose name carries the right hash prefix (torch.hub convention)', async () => {
    const resolved = await resolveWeights(`${base}/weights/lraspp-${sha256.slice(0, 8)}.pth`, { cacheDir });
    assert.equal(resolved.sha256, sha256);
  });

  it('deletes a download whose hash does not match the name, naming both hashes', async () => {
    const wrong = sha256.startsWith('deadbeef') ? 'feedface' : 'deadbeef';
    const url = `${base}/weights/lraspp-${wrong}.pth`;
    await expectWeightsError(
      resolveWeights(url, { cacheDir }),
      `${url}: SHA-256 ${sha256} does not start with ${wrong} from the file name; the download was deleted`,
    );
    assert.deepEqual(await filesUnder(cacheDir), []);
  });

  it('re-downloads a corrupted cache entry', async () => {
    const url = `${base}/weights/m-${sha256.slice(0, 10)}.pth`;
    const { path } = await resolveWeights(url, { cacheDir });
    await writeFile(path, 'garbage');
    const again = await resolveWeights(url, { cacheDir });
    assert.equal(again.sha256, sha256);
    assert.deepEqual(await readFile(path), body);
    assert.equal(requests.length, 2);
  });

  it('reports an HTTP error with its status and the URL, leaving nothing behind', async () => {
    const url = `${base}/missing.pth`;
    await expectWeightsError(resolveWeights(url, { cacheDir }), `${url}: download failed: HTTP 404 Not Found`);
    assert.deepEqual(await filesUnder(cacheDir), []);
  });

  it('reports a connection cut mid-download, leaving nothing behind', async () => {
    const url = `${base}/cut.pth`;
    await expectWeightsError(resolveWeights(url, { cacheDir }), new RegExp(`^${url}: download (interrupted after \\d+ bytes|incomplete)`));
    assert.deepEqual(await filesUnder(cacheDir), []);
  });

  it('reports an unreachable host', async () => {
    const port = (server.address() as AddressInfo).port;
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    assert.notEqual(deadPort, port);
    const url = `http://127.0.0.1:${deadPort}/x.pth`;
    await expectWeightsError(resolveWeights(url, { cacheDir }), `${url}: download failed: ECONNREFUSED`);
  });

  it('uses CITYSEG_CACHE_DIR when no cacheDir is given', async () => {
    const saved = process.env.CITYSEG_CACHE_DIR;
    process.env.CITYSEG_CACHE_DIR = cacheDir;
    try {
      const resolved = await resolveWeights(`${base}/weights/env.pth`);
      assert.ok(resolved.path.startsWith(join(cacheDir, 'weights') + '/'), resolved.path);
    } finally {
      if (saved === undefined) delete process.env.CITYSEG_CACHE_DIR;
      else process.env.CITYSEG_CACHE_DIR = saved;
    }
  });

  it('refuses other URL schemes', async () => {
    await expectWeightsError(resolveWeights('ftp://example.org/w.pth', { cacheDir }), 'ftp://example.org/w.pth: unsupported URL scheme ftp: (use http, https or a file path)');
  });
});

describe('resolveWeights: local files', () => {
  it('returns the absolute path and SHA-256 of an existing file', async () => {
    const path = join(cacheDir, 'sub', 'local.pth');
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, body);
    const resolved = await resolveWeights(path);
    assert.deepEqual(resolved, { path, source: path, sha256 });
    assert.deepEqual(await resolveWeights(`file://${path}`), { path, source: `file://${path}`, sha256 });
    assert.equal(requests.length, 0);
  });

  it('names a missing file', async () => {
    const path = join(cacheDir, 'nope.pth');
    await expectWeightsError(resolveWeights(path), `${path}: file not found`);
  });
});

describe('cache location and hash names', () => {
  it('defaults to CITYSEG_CACHE_DIR, then $XDG_CACHE_HOME/cityseg, then ~/.cache/cityseg', () => {
    assert.equal(defaultCacheDir({ CITYSEG_CACHE_DIR: '/srv/w', XDG_CACHE_HOME: '/x' }), '/srv/w');
    assert.equal(defaultCacheDir({ XDG_CACHE_HOME: '/x' }), '/x/cityseg');
    assert.equal(defaultCacheDir({}), join(homedir(), '.cache', 'cityseg'));
  });

  it('finds the hash in torchvision file names like torch.hub does', () => {
    assert.equal(hashPrefixOf('lraspp_mobilenet_v3_large-d234d4ea.pth'), 'd234d4ea');
    assert.equal(hashPrefixOf('mobilenet_v3_small-047dcff4.pth'), '047dcff4');
    assert.equal(hashPrefixOf('model.pth'), null);
    assert.equal(hashPrefixOf('model-v2.pth'), null);
  });
});
