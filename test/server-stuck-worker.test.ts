/**
 * A job that keeps running after its request was answered (a pass or decode that cannot be interrupted) holds its
 * worker for at most CITYSEG_STUCK_JOB_MS more: the worker thread is terminated and replaced, later requests are
 * served, and /metrics counts it; a hostile RLE BMP never gets that far (its decode is bounded). Against the
 * compiled server (dist/server/main.js); the slow job is real: a 4096x2048 forward pass on the TensorFlow.js engine, far longer than the request's 4 s.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { readyServer, waitForLog, type Server } from './server-process.js';
import { endEveryLine, rle8File } from './hostile-bmp.js';
import { encodeImage } from './server-helpers.js';

const SETTINGS = {
  CITYSEG_ENGINE: 'tfjs',
  CITYSEG_ARCH: 'lraspp_mobilenet_v3_small',
  CITYSEG_WORKERS: '1',
  CITYSEG_REQUEST_TIMEOUT_MS: '4000',
  CITYSEG_STUCK_JOB_MS: '1000',
};

function post(base: string, path: string, body: Buffer, type: string): Promise<Response> {
  return fetch(`${base}${path}`, { method: 'POST', body: new Uint8Array(body), headers: { 'content-type': type } });
}

async function terminations(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(/^cityseg_worker_terminations_total (\d+)$/m.exec(text)?.[1]);
}

describe('a job stuck past its request: its worker is terminated and replaced', () => {
  let server: Server;
  let base: string;

  before(async () => ({ server, base } = await readyServer(SETTINGS)));
  after(async () => {
    server.child.kill('SIGTERM');
    await server.exit;
  });

  it('a 16 MB RLE8 BMP that ends every line is a 422 within the 4 s request timeout (its decode is bounded by its size)', async () => {
    const res = await post(base, '/v1/segment', rle8File(1000, 1000, endEveryLine(16_000_000)), 'image/bmp');
    assert.equal(res.status, 422);
    assert.match(((await res.json()) as { detail: string }).detail, /bmp: RLE run at byte 4000 runs past the declared 1000x1000 image/);
    assert.equal(await terminations(base), 0);
  });

  it('the slow request gets its 503; the worker is replaced; the next request is answered; /metrics counts 1', async () => {
    const slow = await post(base, '/v1/segment?size=4096&format=labelIds', await encodeImage(4096, 2048, 3, 'jpeg'), 'image/jpeg');
    assert.equal(slow.status, 503);
    assert.match(((await slow.json()) as { detail: string }).detail, /inference took longer than 4000 ms \(running\)/);

    const log = await waitForLog(server, 'an inference worker was terminated and is being replaced');
    assert.match(String(log.reason), /a segmentation job of model lraspp_mobilenet_v3_small ran 1000 ms \(CITYSEG_STUCK_JOB_MS\) after its request stopped waiting/);

    // While the replacement loads its models, requests may time out waiting (they never reach a worker, so none is terminated).
    const small = await encodeImage(64, 48, 3);
    let status = 0;
    for (let attempt = 0; attempt < 60 && status !== 200; attempt++) {
      const res = await post(base, '/v1/segment?format=labelIds', small, 'image/png');
      status = res.status;
      await res.arrayBuffer();
      if (status !== 200) await sleep(250);
    }
    assert.equal(status, 200);
    assert.equal(await terminations(base), 1);
    assert.equal(server.child.exitCode, null);
  });
});
