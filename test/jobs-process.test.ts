/**
 * Video jobs against the compiled server as a process (dist/server/main.js), over real HTTP: the life cycle of a
 * job, shutdown while a job runs, and a restart that still serves a stored result until it expires. After each test
 * no ffmpeg process and no upload or partial file is left.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tempDir } from './cli-helpers.js';
import { readyServer, waitForLog, waitInFlight, type Server } from './server-process.js';
import { probeFacts, testVideo, toolProcessesMentioning } from './video-helpers.js';

interface JobView {
  id: string;
  status: string;
  frames: { done: number; total: number };
  error?: string;
  expiresAt?: string;
}

/** The ffmpeg/ffprobe processes whose parent is `pid` (any of its threads), as "pid: command line". */
async function toolChildren(pid: number): Promise<string[]> {
  const found: string[] = [];
  let tasks: string[];
  try {
    tasks = await readdir(`/proc/${pid}/task`);
  } catch {
    return found;
  }
  for (const task of tasks) {
    const children = await readFile(`/proc/${pid}/task/${task}/children`, 'utf8').catch(() => '');
    for (const child of children.split(' ').filter(Boolean)) {
      const cmdline = (await readFile(`/proc/${child}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ');
      if (/ff(mpeg|probe)/.test(cmdline.split(' ')[0])) found.push(`${child}: ${cmdline}`);
    }
  }
  return found;
}

/** Files in `dir` (recursively) that a job may only hold while it is being uploaded or run. */
async function temporaryFiles(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String).filter((name) => /upload|\.partial/.test(name));
}

describe('video jobs on the compiled server process', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let video: string;
  let longVideo: string;
  const servers: Server[] = [];

  async function start(jobsDir: string, env: Record<string, string> = {}): Promise<{ server: Server; base: string }> {
    const started = await readyServer({ CITYSEG_JOBS_DIR: jobsDir, ...env });
    servers.push(started.server);
    return started;
  }

  async function post(base: string, file: string, query = ''): Promise<Response> {
    return fetch(`${base}/v1/jobs${query}`, { method: 'POST', headers: { 'content-type': 'video/mp4' }, body: await readFile(file) });
  }

  async function waitJob(base: string, id: string, done: (view: JobView) => boolean): Promise<JobView> {
    for (;;) {
      const view = (await (await fetch(`${base}/v1/jobs/${id}`)).json()) as JobView;
      if (done(view)) return view;
      await sleep(50);
    }
  }

  const finished = (base: string, id: string) => waitJob(base, id, (view) => view.status === 'succeeded' || view.status === 'failed');

  before(async () => {
    ({ dir, cleanup } = await tempDir('jobs-process'));
    video = path.join(dir, 'drive.mp4');
    await testVideo(video, { width: 96, height: 64, rate: 5, frames: 6 });
    longVideo = path.join(dir, 'long.mp4');
    await testVideo(longVideo, { width: 160, height: 120, rate: 25, frames: 750 });
  });
  after(async () => {
    for (const server of servers) if (server.child.exitCode === null) server.child.kill('SIGKILL');
    await cleanup();
  });
  afterEach(async () => {
    for (const server of servers) {
      if (server.child.exitCode !== null) continue;
      assert.deepEqual(await toolChildren(server.child.pid as number), [], 'the server kept an ffmpeg process');
    }
    assert.deepEqual(await toolProcessesMentioning(dir), [], 'an ffmpeg process outlived its test');
    assert.deepEqual(await temporaryFiles(dir), [], 'an upload or partial file outlived its test');
  });

  it('POST → 202 + Location, polled to succeeded, the MP4 (200, and 206 for a Range), frames.jsonl, DELETE → 204 and gone', async () => {
    const jobsDir = path.join(dir, 'jobs-life');
    const { base } = await start(jobsDir);
    const res = await post(base, video, '?format=overlay&size=64');
    assert.equal(res.status, 202, await res.clone().text());
    const created = (await res.json()) as JobView;
    assert.equal(res.headers.get('location'), `/v1/jobs/${created.id}`);
    const done = await finished(base, created.id);
    assert.equal(done.status, 'succeeded', done.error);
    assert.deepEqual(done.frames, { done: 6, total: 6 });

    const result = await fetch(`${base}/v1/jobs/${created.id}/result`);
    assert.equal(result.status, 200);
    assert.equal(result.headers.get('content-type'), 'video/mp4');
    const mp4 = Buffer.from(await result.arrayBuffer());
    const saved = path.join(dir, 'life.mp4');
    await writeFile(saved, mp4);
    assert.deepEqual(await probeFacts(saved), { width: 96, height: 64, rate: '5/1', frames: 6, codec: 'h264', pixFmt: 'yuv420p', audio: false });
    const range = await fetch(`${base}/v1/jobs/${created.id}/result`, { headers: { range: 'bytes=100-199' } });
    assert.equal(range.status, 206);
    assert.equal(range.headers.get('content-range'), `bytes 100-199/${mp4.length}`);
    assert.deepEqual(Buffer.from(await range.arrayBuffer()), mp4.subarray(100, 200));

    const frames = await fetch(`${base}/v1/jobs/${created.id}/frames.jsonl`);
    assert.equal(frames.status, 200);
    const lines = (await frames.text()).trim().split('\n').map((line) => JSON.parse(line) as { frame: number; time: number; classes: unknown[] });
    assert.deepEqual(lines.map((line) => [line.frame, line.time]), [0, 1, 2, 3, 4, 5].map((i) => [i, i / 5]));
    assert.ok(lines.every((line) => line.classes.length > 0));

    const deleted = await fetch(`${base}/v1/jobs/${created.id}`, { method: 'DELETE' });
    assert.equal(deleted.status, 204);
    assert.equal((await fetch(`${base}/v1/jobs/${created.id}`)).status, 404);
    assert.equal((await fetch(`${base}/v1/jobs/${created.id}/result`)).status, 404);
    assert.deepEqual(await readdir(jobsDir), []);
  });

  it('SIGTERM while a job runs fails it with the reason and kills its ffmpeg; a restart serves the stored result until it expires', async () => {
    const jobsDir = path.join(dir, 'jobs-restart');
    // Long enough for the restart to come up before the finished job expires, short enough to watch it expire.
    const ttlMs = 30_000;
    const first = await start(jobsDir, { CITYSEG_JOB_TTL_MS: String(ttlMs) });
    const ok = (await (await post(first.base, video)).json()) as JobView;
    assert.equal((await finished(first.base, ok.id)).status, 'succeeded');
    const running = (await (await post(first.base, longVideo)).json()) as JobView;
    await waitJob(first.base, running.id, (view) => view.frames.done >= 1);
    // The running job's decoder and encoder are the server's children: the check below can fail.
    const tools = await toolChildren(first.server.child.pid as number);
    assert.ok(tools.some((line) => line.includes(jobsDir)), `no ffmpeg child while the job runs: ${tools.join('; ')}`);
    first.server.child.kill('SIGTERM');
    assert.equal(await first.server.exit, 0, first.server.stderr());
    assert.deepEqual(await toolProcessesMentioning(dir), [], 'ffmpeg outlived the server');
    assert.deepEqual(await temporaryFiles(jobsDir), []);

    const second = await start(jobsDir, { CITYSEG_JOB_TTL_MS: '1000' });
    const failed = (await (await fetch(`${second.base}/v1/jobs/${running.id}`)).json()) as JobView;
    assert.equal(failed.status, 'failed');
    assert.match(failed.error ?? '', /^the server shut down while the job ran \(after \d+ of 750 frames\)$/);
    const stored = (await (await fetch(`${second.base}/v1/jobs/${ok.id}`)).json()) as JobView;
    assert.equal(stored.status, 'succeeded');
    const result = await fetch(`${second.base}/v1/jobs/${ok.id}/result`);
    assert.equal(result.status, 200, 'the stored result expired before the restart came up');
    assert.ok((await result.arrayBuffer()).byteLength > 1000);
    assert.equal((await fetch(`${second.base}/v1/jobs/${running.id}/result`)).status, 409);

    // Both expire at the times the first process set (its TTL after each finished); the restart's sweeper removes them.
    const lastExpiry = Math.max(Date.parse(stored.expiresAt as string), Date.parse(failed.expiresAt as string));
    assert.ok(lastExpiry - Date.now() <= ttlMs);
    for (const id of [ok.id, running.id]) {
      while ((await fetch(`${second.base}/v1/jobs/${id}`)).status !== 404) await sleep(250);
    }
    assert.ok(Date.now() >= Date.parse(stored.expiresAt as string), 'removed before it expired');
    assert.equal((await fetch(`${second.base}/v1/jobs/${ok.id}/result`)).status, 404);
    assert.deepEqual(await readdir(jobsDir), []);
    second.server.child.kill('SIGTERM');
    assert.equal(await second.server.exit, 0);
  });

  it('an upload still arriving at SIGTERM is answered 503 problem+json with Retry-After and deleted, and no job is started', async () => {
    const jobsDir = path.join(dir, 'jobs-closing');
    const { server, base } = await start(jobsDir);
    const bytes = await readFile(video);
    const { hostname, port } = new URL(base);
    const answer = new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const request = http.request({ host: hostname, port, method: 'POST', path: '/v1/jobs', headers: { 'content-type': 'video/mp4', 'content-length': bytes.length } }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve({ status: res.statusCode as number, headers: res.headers, body }));
      });
      request.on('error', reject);
      request.write(bytes.subarray(0, 100));
      // The rest follows once the server has begun shutting down.
      void (async () => {
        await waitInFlight(base, 1);
        server.child.kill('SIGTERM');
        await waitForLog(server, /^video jobs closing/);
        request.end(bytes.subarray(100));
      })().catch(reject);
    });
    const res = await answer;
    assert.equal(res.status, 503, res.body);
    assert.match(res.headers['content-type'] ?? '', /^application\/problem\+json/);
    assert.equal(res.headers['retry-after'], '1');
    assert.match((JSON.parse(res.body) as { detail: string }).detail, /shutting down while the video arrived/);
    assert.equal(await server.exit, 0, server.stderr());
    assert.deepEqual(await readdir(jobsDir), [], 'the refused upload or a job record is left');
  });
});
