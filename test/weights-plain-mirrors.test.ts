/**
 * Weights from the mirrors an air-gapped site sets up first: a real `python3 -m http.server` (HTTP/1.0, bodies
 * ended by closing the connection), a Node server that sends no length and closes after the body, a chunked one, a
 * 301 to the Python mirror; one download per file when two loaders ask at once; and an error page served with 200
 * is never cached. No `.part` or `.lock` file is left after any of them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WeightsError } from '../model/weights/errors.js';
import { resolveWeights } from '../model/weights/source.js';
import { tempDir } from './cli-helpers.js';
import { startMirror, tinyCheckpoint, type Mirror } from './weights-mirror.js';

/** Debian's Python, as the README's air-gapped recipe uses it. */
const PYTHON = '/usr/bin/python3';
const CHECKPOINT = tinyCheckpoint(300_000, 7);
const limits = { connectTimeoutMs: 2000, idleTimeoutMs: 5000, deadlineMs: 30_000 };

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Every file under `dir`, relative, sorted. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name))).sort();
}

/** A mirror of `routes` and an empty cache directory for `fn`, both gone afterwards. */
async function withMirror(routes: Parameters<typeof startMirror>[0], fn: (mirror: Mirror, cacheDir: string) => Promise<void>): Promise<void> {
  const mirror = await startMirror(routes);
  const { dir, cleanup } = await tempDir('cache');
  try {
    await fn(mirror, dir);
  } finally {
    await mirror.close();
    await cleanup();
  }
}

describe('weights from plain mirrors', { skip: existsSync(PYTHON) ? false : `needs ${PYTHON} for python3 -m http.server` }, () => {
  let python: ChildProcess;
  let pythonUrl: string;
  let served: { dir: string; cleanup: () => Promise<void> };

  before(async () => {
    served = await tempDir('python-mirror');
    await writeFile(path.join(served.dir, 'model.pth'), CHECKPOINT);
    const port = await freePort();
    python = spawn(PYTHON, ['-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', served.dir], { stdio: 'ignore' });
    pythonUrl = `http://127.0.0.1:${port}/`;
    for (let attempt = 0; ; attempt++) {
      const up = await fetch(pythonUrl).then((res) => res.ok, () => false);
      if (up) break;
      if (attempt > 100) throw new Error('python3 -m http.server did not start');
      await sleep(100);
    }
  });
  after(async () => {
    python.kill();
    await served.cleanup();
  });

  it('python3 -m http.server (HTTP/1.0): five fresh downloads in a row all succeed, byte for byte', async () => {
    for (let run = 0; run < 5; run++) {
      const { dir, cleanup } = await tempDir('cache');
      try {
        const resolved = await resolveWeights(`${pythonUrl}model.pth`, { cacheDir: dir, limits });
        assert.deepEqual(await readFile(resolved.path), CHECKPOINT);
        assert.deepEqual((await filesUnder(dir)).map((file) => path.basename(file)), ['model.pth']);
      } finally {
        await cleanup();
      }
    }
  });

  it('a 301 to the Python mirror is followed', async () => {
    await withMirror({
      'moved.pth': (_request, response) => response.writeHead(301, { location: `${pythonUrl}model.pth` }).end(),
    }, async (redirector, dir) => {
      const resolved = await resolveWeights(`${redirector.url}moved.pth`, { cacheDir: dir, limits });
      assert.deepEqual(await readFile(resolved.path), CHECKPOINT);
      assert.deepEqual(redirector.requests, ['moved.pth']);
    });
  });

  it('HTTP/1.1 without a length, closing after the body; and a chunked body: both complete', async () => {
    await withMirror({
      'closes.pth': (_request, response) => {
        // No Content-Length and no chunking: the body ends when the connection does.
        response.useChunkedEncodingByDefault = false;
        response.shouldKeepAlive = false;
        response.writeHead(200, { connection: 'close' });
        response.write(CHECKPOINT.subarray(0, 100_000));
        setTimeout(() => response.end(CHECKPOINT.subarray(100_000)), 20);
      },
      'chunked.pth': (_request, response) => {
        response.writeHead(200, { 'transfer-encoding': 'chunked' });
        for (let at = 0; at < CHECKPOINT.length; at += 65_536) response.write(CHECKPOINT.subarray(at, at + 65_536));
        response.end();
      },
    }, async (mirror, dir) => {
      for (const name of ['closes.pth', 'chunked.pth']) {
        const resolved = await resolveWeights(`${mirror.url}${name}`, { cacheDir: dir, limits });
        assert.deepEqual(await readFile(resolved.path), CHECKPOINT, name);
      }
      assert.ok((await filesUnder(dir)).every((file) => file.endsWith('.pth')));
    });
  });

  it('two loaders asking for one URL at once (main thread and worker) download it once', async () => {
    await withMirror({
      'slow.pth': (_request, response) => {
        response.writeHead(200, { 'content-length': CHECKPOINT.length });
        response.write(CHECKPOINT.subarray(0, 1000));
        setTimeout(() => response.end(CHECKPOINT.subarray(1000)), 300);
      },
    }, async (mirror, dir) => {
      const url = `${mirror.url}slow.pth`;
      const [first, second] = await Promise.all([resolveWeights(url, { cacheDir: dir, limits }), resolveWeights(url, { cacheDir: dir, limits })]);
      assert.equal(first.path, second.path);
      assert.equal(first.sha256, second.sha256);
      assert.deepEqual(mirror.requests, ['slow.pth']);
      assert.deepEqual((await filesUnder(dir)).map((file) => path.basename(file)), ['slow.pth']);
    });
  });

  it('an HTML page served with 200 is refused naming the URL and cache file, not cached; once fixed, the file loads', async () => {
    let broken = true;
    await withMirror({
      'flaky.pth': (_request, response) => {
        const body = broken ? Buffer.from('<html><body>502 Bad Gateway</body></html>') : CHECKPOINT;
        response.writeHead(200, { 'content-length': body.length, 'content-type': broken ? 'text/html' : 'application/octet-stream' }).end(body);
      },
    }, async (mirror, dir) => {
      const url = `${mirror.url}flaky.pth`;
      const error = await resolveWeights(url, { cacheDir: dir, limits }).then(() => assert.fail('an HTML page was accepted'), (e: unknown) => e);
      assert.ok(error instanceof WeightsError);
      assert.match(error.message, new RegExp(`^${url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: the download is not a checkpoint \\(neither a torch checkpoint \\(zip\\) nor a safetensors file \\(starts with 0x3c68746d6c3e3c62\\)\\); it was not cached as ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/weights/[0-9a-f]{16}/flaky\\.pth$`));
      assert.deepEqual(await filesUnder(dir), []);
      broken = false;
      const resolved = await resolveWeights(url, { cacheDir: dir, limits });
      assert.deepEqual(await readFile(resolved.path), CHECKPOINT);
      assert.deepEqual(mirror.requests, ['flaky.pth', 'flaky.pth']);
    });
  });

  it('an error page cached by an older version is dropped and fetched again', async () => {
    await withMirror({ 'old.pth': CHECKPOINT }, async (mirror, dir) => {
      const url = `${mirror.url}old.pth`;
      const first = await resolveWeights(url, { cacheDir: dir, limits });
      await writeFile(first.path, '<html>Service Unavailable</html>');
      const again = await resolveWeights(url, { cacheDir: dir, limits });
      assert.deepEqual(await readFile(again.path), CHECKPOINT);
      assert.deepEqual(mirror.requests, ['old.pth', 'old.pth']);
    });
  });
});
