/**
 * Signals against the compiled server (dist/server/main.js): a second SIGTERM while a forward pass runs, SIGTERM
 * while the models warm up, SIGHUP before anything has loaded. Each ends with a clean exit status and every
 * accepted request answered.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { readyServer, startServer, waitForLog, waitInFlight } from './server-process.js';
import { encodeImage } from './server-helpers.js';

/** Whether the process `pid` has installed a handler for signal number `signo` (Linux: SigCgt in /proc). */
function catches(pid: number, signo: number): boolean | undefined {
  try {
    const mask = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return mask === undefined ? undefined : (BigInt(`0x${mask}`) & (1n << BigInt(signo - 1))) !== 0n;
  } catch {
    return undefined;
  }
}

const SIGHUP_NUMBER = 1;

describe('server signals (compiled build)', () => {
  it('a second SIGTERM during a forward pass is ignored: the request is answered 200, exit 0', async () => {
    const { server, base } = await readyServer({ CITYSEG_SHUTDOWN_TIMEOUT_MS: '60000' });
    try {
      const response = fetch(`${base}/v1/segment?size=native&format=trainIds`, {
        method: 'POST',
        body: new Uint8Array(await encodeImage(1600, 1200, 7)),
        headers: { 'content-type': 'image/png' },
      });
      await waitInFlight(base, 1);
      server.child.kill('SIGTERM');
      await waitForLog(server, 'shutting down: finishing in-flight requests');
      server.child.kill('SIGTERM');
      server.child.kill('SIGINT');
      assert.equal((await response).status, 200);
      assert.equal(await server.exit, 0);
      assert.ok(server.logs.some((l) => l.msg === 'already shutting down: the in-flight requests are still being answered'));
      assert.doesNotMatch(server.stderr(), /Napi::Error|terminate called/);
    } finally {
      server.child.kill('SIGKILL');
    }
  });

  it('SIGTERM while the models warm up: the warm-up ends, the server closes, exit 0', async () => {
    // A large warm-up frame keeps the engine inside its first pass when the signal comes.
    const server = startServer({ CITYSEG_INFERENCE_SIZE: '1024', CITYSEG_SHUTDOWN_TIMEOUT_MS: '60000' });
    try {
      await waitForLog(server, /^Server listening at /);
      server.child.kill('SIGTERM');
      assert.equal(await server.exit, 0);
      assert.ok(server.logs.some((l) => l.msg === 'server closed'));
      assert.doesNotMatch(server.stderr(), /Napi::Error|terminate called/);
    } finally {
      server.child.kill('SIGKILL');
    }
  });

  it('SIGHUP before the server has started does not kill it; SIGTERM later exits 0', async (t) => {
    const server = startServer({});
    try {
      const pid = server.child.pid!;
      let caught = catches(pid, SIGHUP_NUMBER);
      if (caught === undefined) {
        t.skip('needs /proc/<pid>/status (Linux) to see when the handlers are installed');
        return;
      }
      while (!caught && server.child.exitCode === null) {
        await sleep(2);
        caught = catches(pid, SIGHUP_NUMBER);
      }
      // Installed before the server logs anything: the settings, Fastify and the engines load after the handlers.
      assert.equal(server.logs.length, 0, 'the handlers must be installed before the server starts');
      server.child.kill('SIGHUP');
      await waitForLog(server, 'ready');
      server.child.kill('SIGHUP');
      await sleep(200);
      assert.equal(server.child.exitCode, null);
      assert.match(server.stderr(), /SIGHUP ignored: the server is still starting/);
      server.child.kill('SIGTERM');
      assert.equal(await server.exit, 0);
    } finally {
      server.child.kill('SIGKILL');
    }
  });
});
