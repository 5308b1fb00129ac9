import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { freePort, rampImage, runCli, spawnCli } from './cli-helpers.js';

async function waitUntilReady(base: string, child: ChildProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`cityseg serve exited with ${child.exitCode}`);
    const status = await fetch(`${base}/readyz`).then(
      (res) => res.status,
      () => 0,
    );
    if (status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${base}/readyz did not turn 200 within ${timeoutMs} ms`);
}

describe('cityseg serve', () => {
  let child: ReturnType<typeof spawnCli>;
  let base: string;
  let stdout = '';

  before(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    // PORT comes from the environment, HOST is overridden by the flag (a flag wins over its variable).
    child = spawnCli(['serve', '--host', '127.0.0.1', '--classifier-arch', 'none', '--log-level', 'info'], {
      PORT: String(port),
      HOST: 'not-a-host.invalid',
    });
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    await waitUntilReady(base, child);
  });
  after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });

  it('serves the same HTTP API as server/main.ts, with the CLI flags and env mapped onto its config', async () => {
    const png = await rampImage(90, 50).png().toBuffer();
    const res = await fetch(`${base}/v1/segment?format=labelIds`, { method: 'POST', body: new Uint8Array(png), headers: { 'content-type': 'image/png' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/png');
    assert.deepEqual([res.headers.get('x-mask-width'), res.headers.get('x-mask-height')], ['90', '50']);
    const models = (await (await fetch(`${base}/v1/models`)).json()) as { models: { id: string; weights: { trained: boolean } }[] };
    // --classifier-arch none: the segmentation model only.
    assert.deepEqual(models.models.map((m) => [m.id, m.weights.trained]), [['lraspp_mobilenet_v3_large', false]]);
    assert.match(stdout, /"msg":"ready"/);
  });

  it('finishes with exit status 0 on SIGTERM', async () => {
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
    assert.match(stdout, /server closed/);
  });

  it('rejects an invalid setting with exit status 2, naming the flag or variable', async () => {
    const [flag, variable] = await Promise.all([runCli(['serve', '--port', '70000']), runCli(['serve'], { CITYSEG_WORKERS: 'many' })]);
    assert.equal(flag.code, 2);
    assert.equal(flag.stderr, "cityseg: --port: expected an integer in 0..65535, got '70000'\n");
    assert.equal(variable.code, 2);
    assert.equal(variable.stderr, "cityseg: CITYSEG_WORKERS: expected an integer in 0..64, got 'many'\n");
  });
});
