import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { SERVER_MAIN } from './cli-helpers.js';
import { readyServer, startServer, waitForLog, waitInFlight } from './server-process.js';
import { decodeRaw, encodeImage } from './server-helpers.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

describe('server/main.ts as a process', () => {
  it('on SIGTERM finishes the in-flight request, then exits 0', async () => {
    const { server, base } = await readyServer({ CITYSEG_SHUTDOWN_TIMEOUT_MS: '60000' });
    try {
      assert.equal((await fetch(`${base}/readyz`)).status, 200);
      // Native size keeps the request busy long enough to be caught in flight.
      const image = await encodeImage(1600, 1200, 5);
      const response = fetch(`${base}/v1/segment?size=native&format=trainIds`, {
        method: 'POST',
        body: new Uint8Array(image),
        headers: { 'content-type': 'image/png' },
      });
      await waitInFlight(base, 1);
      server.child.kill('SIGTERM');

      const res = await response;
      assert.equal(res.status, 200);
      const mask = await decodeRaw(Buffer.from(await res.arrayBuffer()));
      assert.deepEqual([mask.width, mask.height, mask.channels], [1600, 1200, 1]);
      assert.equal(await server.exit, 0);
      const order = (predicate: (l: Record<string, unknown>) => boolean) => server.logs.findIndex(predicate);
      const shutdown = order((l) => l.msg === 'shutting down: finishing in-flight requests' && l.signal === 'SIGTERM');
      const answered = order((l) => l.msg === 'request completed' && l.route === '/v1/segment' && l.status === 200);
      const closed = order((l) => l.msg === 'server closed');
      assert.ok(shutdown >= 0 && shutdown < answered && answered < closed, `log order ${shutdown}, ${answered}, ${closed}`);
    } finally {
      server.child.kill('SIGKILL');
    }
  });

  it('exits 1 when in-flight work outlasts the shutdown timeout', async () => {
    const { server, base } = await readyServer({ CITYSEG_SHUTDOWN_TIMEOUT_MS: '100' });
    try {
      const image = await encodeImage(1600, 1200, 6);
      const response = fetch(`${base}/v1/segment?size=native`, {
        method: 'POST',
        body: new Uint8Array(image),
        headers: { 'content-type': 'image/png' },
      }).catch((error: unknown) => error);
      await waitInFlight(base, 1);
      const signalled = Date.now();
      server.child.kill('SIGTERM');
      assert.equal(await server.exit, 1);
      assert.ok(Date.now() - signalled < 5000, 'forced exit came too late');
      await response;
    } finally {
      server.child.kill('SIGKILL');
    }
  });

  it('logs the engine, backend and that the default model is untrained', async () => {
    const { server } = await readyServer({});
    try {
      const line = await waitForLog(server, /^model lraspp_mobilenet_v3_large ready/);
      assert.equal(line.trained, false);
      assert.equal(line.level, 40);
      assert.match(String(line.msg), /UNTRAINED/);
      assert.ok(['onnx', 'tfjs'].includes(String(line.engine)));
      assert.equal(typeof line.backend, 'string');
    } finally {
      server.child.kill('SIGTERM');
      assert.equal(await server.exit, 0);
    }
  });

  it('runs inference in worker threads with CITYSEG_WORKERS=1, and still exits 0 on SIGTERM', async () => {
    const { server, base } = await readyServer({ CITYSEG_WORKERS: '1' });
    try {
      const res = await fetch(`${base}/v1/segment?format=json`, {
        method: 'POST',
        body: new Uint8Array(await encodeImage(80, 60, 2)),
        headers: { 'content-type': 'image/png' },
      });
      assert.equal(res.status, 200);
      assert.deepEqual((await res.json()).inferenceSize, { width: 64, height: 48 });
      assert.equal(server.logs.find((l) => l.msg === 'ready')?.workers, 1);
    } finally {
      server.child.kill('SIGTERM');
      assert.equal(await server.exit, 0);
    }
  });

  for (const workers of ['0', '1']) {
    it(`exits 1 naming the file when the weights cannot be loaded (CITYSEG_WORKERS=${workers})`, async () => {
      const server = startServer({ CITYSEG_WORKERS: workers, CITYSEG_WEIGHTS: '/nonexistent/seg.pth' });
      assert.equal(await server.exit, 1);
      assert.match(server.stderr(), /^cityseg-server: failed to start: .*\/nonexistent\/seg\.pth/);
      assert.doesNotMatch(server.stderr(), /\n\s+at /, 'a bad checkpoint is reported without a stack trace');
    });
  }

  it('refuses an invalid setting with exit status 2 and a message naming it', async () => {
    const server = startServer({ PORT: 'eighty' });
    assert.equal(await server.exit, 2);
    assert.equal(server.stderr(), "cityseg-server: invalid setting PORT: expected an integer in 0..65535, got 'eighty'\n");
    const flagged = spawn(process.execPath, [SERVER_MAIN, '--queue-limit', '0'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    flagged.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    assert.deepEqual(await once(flagged, 'exit'), [2, null]);
    assert.equal(stderr, "cityseg-server: invalid setting --queue-limit: expected an integer in 1..100000, got '0'\n");
  });
});
