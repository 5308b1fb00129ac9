/**
 * Video jobs over HTTP: POST /v1/jobs → 202 + Location, progress, the MP4 (with Range), the frame lines equal to
 * image segmentation of the extracted frames, cancel, expiry, restart, shutdown, caps and every hostile upload.
 * After each test no ffmpeg process is left and no upload or partial file remains in the jobs directory.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { errorLines } from '../segmentation/video/process.js';
import { tempDir } from './cli-helpers.js';
import { appWithDefaultModels, encodeImage, testConfig } from './server-helpers.js';
import { extractFrames, ffmpeg, hostileVideos, probeFacts, testVideo, toolProcessesMentioning } from './video-helpers.js';

interface JobView {
  id: string;
  status: string;
  frames: { done: number; total: number };
  fps: number;
  etaSeconds: number;
  error?: string;
  expiresAt?: string;
  video: { width: number; height: number; frames: number };
}

describe('video jobs: /v1/jobs', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let video: string;
  let longVideo: string;
  let n = 0;
  const apps: FastifyInstance[] = [];

  /** An app with its own jobs directory (or the given one, to restart on it). */
  async function makeApp(env: Record<string, string> = {}, jobsDir = path.join(dir, `jobs-${n++}`)): Promise<{ app: FastifyInstance; jobsDir: string }> {
    const app = await appWithDefaultModels(testConfig({ CITYSEG_CLASSIFIER_ARCH: 'none', CITYSEG_JOBS_DIR: jobsDir, ...env }));
    apps.push(app);
    return { app, jobsDir };
  }

  async function post(app: FastifyInstance, file: string, query = '', type = 'video/mp4') {
    return app.inject({ method: 'POST', url: `/v1/jobs${query}`, headers: { 'content-type': type }, payload: await readFile(file) });
  }

  /** Polls the job until `done` holds for its view. */
  async function waitJob(app: FastifyInstance, id: string, done: (view: JobView) => boolean): Promise<JobView> {
    for (;;) {
      const res = await app.inject({ method: 'GET', url: `/v1/jobs/${id}` });
      assert.equal(res.statusCode, 200, res.body);
      const view = res.json() as JobView;
      if (done(view)) return view;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  const finished = (app: FastifyInstance, id: string) => waitJob(app, id, (view) => view.status === 'succeeded' || view.status === 'failed');

  /** POSTs `bytes` to the listening `app` in `chunks` pieces `pauseMs` apart; `held` resolves once the first piece is sent. */
  function slowUpload(base: string, bytes: Buffer, chunks: number, pauseMs: number) {
    const { hostname, port } = new URL(base);
    const request = http.request({ host: hostname, port, method: 'POST', path: '/v1/jobs', headers: { 'content-type': 'video/mp4', 'content-length': bytes.length } });
    const answer = new Promise<{ status: number; body: string; retryAfter?: string }>((resolve, reject) => {
      request.on('response', (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve({ status: res.statusCode as number, body, retryAfter: res.headers['retry-after'] }));
      });
      request.on('error', reject);
    });
    const size = Math.ceil(bytes.length / chunks);
    const sent = (async () => {
      for (let i = 0; i < chunks; i++) {
        if (request.destroyed) return;
        request.write(bytes.subarray(i * size, (i + 1) * size));
        if (i < chunks - 1) await new Promise((resolve) => setTimeout(resolve, pauseMs));
      }
      request.end();
    })();
    return { answer, sent, request };
  }

  before(async () => {
    ({ dir, cleanup } = await tempDir('jobs'));
    video = path.join(dir, 'drive.mp4');
    await testVideo(video, { width: 96, height: 64, rate: 5, frames: 6 });
    longVideo = path.join(dir, 'long.mp4');
    await testVideo(longVideo, { width: 160, height: 120, rate: 25, frames: 750 });
  });
  after(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await cleanup();
  });
  afterEach(async () => {
    assert.deepEqual(await toolProcessesMentioning(dir), [], 'an ffmpeg process outlived its test');
    const entries = (await readdir(dir, { recursive: true })).map(String);
    assert.deepEqual(entries.filter((name) => /upload-|\.partial/.test(name)), [], 'an upload or partial file outlived its test');
  });

  it('runs a job: 202 + Location, progress, an MP4 with the input size, rate and frames (Range served), frame lines equal to the image path', async () => {
    const { app, jobsDir } = await makeApp();
    const res = await post(app, video, '?format=overlay&size=64');
    assert.equal(res.statusCode, 202, res.body);
    const created = res.json() as JobView;
    assert.equal(res.headers.location, `/v1/jobs/${created.id}`);
    assert.match(created.id, /^[A-Za-z0-9_-]{22}$/);
    assert.deepEqual([created.video.width, created.video.height, created.video.frames], [96, 64, 6]);
    const done = await finished(app, created.id);
    assert.equal(done.status, 'succeeded', done.error);
    assert.deepEqual(done.frames, { done: 6, total: 6 });
    assert.ok(done.fps > 0 && done.etaSeconds === 0 && done.expiresAt);
    // The test model is the seeded init: the status and the result say so.
    assert.equal((done as JobView & { trained?: boolean }).trained, false);

    const result = await app.inject({ method: 'GET', url: `/v1/jobs/${created.id}/result` });
    assert.equal(result.statusCode, 200);
    assert.equal(result.headers['content-type'], 'video/mp4');
    assert.equal(result.headers['x-model-trained'], 'false');
    assert.equal(result.headers['accept-ranges'], 'bytes');
    const mp4 = path.join(dir, 'result.mp4');
    await writeFile(mp4, result.rawPayload);
    assert.deepEqual(await probeFacts(mp4), { width: 96, height: 64, rate: '5/1', frames: 6, codec: 'h264', pixFmt: 'yuv420p', audio: false });
    const range = await app.inject({ method: 'GET', url: `/v1/jobs/${created.id}/result`, headers: { range: 'bytes=100-199' } });
    assert.equal(range.statusCode, 206);
    assert.equal(range.headers['content-range'], `bytes 100-199/${result.rawPayload.length}`);
    assert.deepEqual(range.rawPayload, result.rawPayload.subarray(100, 200));

    const lines = (await app.inject({ method: 'GET', url: `/v1/jobs/${created.id}/frames.jsonl` })).body.trim().split('\n').map((line) => JSON.parse(line));
    assert.equal(lines.length, 6);
    const scratch = path.join(dir, 'extracted');
    await mkdir(scratch);
    const pngs = await extractFrames(video, scratch);
    for (let i = 0; i < pngs.length; i++) {
      const image = await app.inject({ method: 'POST', url: '/v1/segment?format=json&size=64', headers: { 'content-type': 'image/png' }, payload: await readFile(pngs[i]) });
      const expected = (image.json() as { classes: { pixels: number }[] }).classes.map(({ pixels: _pixels, ...rest }) => rest);
      assert.deepEqual(lines[i], { frame: i, time: i / 5, classes: expected }, `frame ${i}`);
    }
    // Only the record and the two results stay in the job's folder (the upload is removed once it ran).
    assert.deepEqual((await readdir(path.join(jobsDir, created.id))).sort(), ['frames.jsonl', 'job.json', 'result.mp4']);
  });

  it('takes a multipart upload (field "video") with the sampling parameters', async () => {
    const { app } = await makeApp();
    const form = new FormData();
    form.append('video', new Blob([await readFile(longVideo)], { type: 'video/mp4' }), 'long.mp4');
    const request = new Request('http://x/', { method: 'POST', body: form });
    const res = await app.inject({
      method: 'POST',
      url: '/v1/jobs?every=250&format=color&rle=true',
      headers: { 'content-type': request.headers.get('content-type') as string },
      payload: Buffer.from(await request.arrayBuffer()),
    });
    assert.equal(res.statusCode, 202, res.body);
    const done = await finished(app, (res.json() as JobView).id);
    assert.equal(done.status, 'succeeded', done.error);
    assert.deepEqual(done.frames, { done: 3, total: 3 });
    const lines = (await app.inject({ method: 'GET', url: `/v1/jobs/${done.id}/frames.jsonl` })).body.trim().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual(lines.map((line) => line.time), [0, 10, 20]);
    assert.deepEqual(lines[0].classes[0].rle.size, [120, 160]);
  });

  it('refuses a multipart upload with more than one file part (400, as /v1/segment), leaving no file', async () => {
    const { app } = await makeApp();
    const bytes = await readFile(video);
    const forms: [string, (form: FormData) => void, RegExp][] = [
      ['two videos', (form) => form.append('video', new Blob([bytes], { type: 'video/mp4' }), 'b.mp4'), /^multipart body has 2 "video" parts; send one$/],
      ['a video and another file', (form) => form.append('thumbnail', new Blob([bytes], { type: 'video/mp4' }), 'c.mp4'), /^multipart body has file parts other than "video": thumbnail$/],
    ];
    for (const [what, extra, detail] of forms) {
      const form = new FormData();
      form.append('video', new Blob([bytes], { type: 'video/mp4' }), 'a.mp4');
      extra(form);
      form.append('note', 'a text field is ignored');
      const request = new Request('http://x/', { method: 'POST', body: form });
      const res = await app.inject({
        method: 'POST',
        url: '/v1/jobs',
        headers: { 'content-type': request.headers.get('content-type') as string },
        payload: Buffer.from(await request.arrayBuffer()),
      });
      assert.equal(res.statusCode, 400, `${what}: ${res.body}`);
      assert.match(res.json().detail, detail, what);
    }
    const form = new FormData();
    form.append('video', new Blob([bytes], { type: 'video/mp4' }), 'a.mp4');
    form.append('note', 'a text field is ignored');
    const request = new Request('http://x/', { method: 'POST', body: form });
    const one = await app.inject({ method: 'POST', url: '/v1/jobs', headers: { 'content-type': request.headers.get('content-type') as string }, payload: Buffer.from(await request.arrayBuffer()) });
    assert.equal(one.statusCode, 202, one.body);
    await finished(app, (one.json() as JobView).id);
  });

  it('refuses each hostile upload at once with a 4xx problem naming the fault or limit, leaving no file', async () => {
    const { app, jobsDir } = await makeApp({ CITYSEG_JOB_UPLOAD_LIMIT: '1MiB' });
    const hostile = path.join(dir, 'hostile');
    await mkdir(hostile);
    const files = await hostileVideos(hostile);
    const gif = path.join(hostile, 'long.gif');
    await ffmpeg('-f', 'lavfi', '-i', 'color=c=red:size=8x8:rate=10', '-frames:v', '10000', gif);
    const expected: Array<[string, string, number, RegExp]> = [
      ['truncated', files.truncated, 422, /truncated|cannot be read|holds no video frames/],
      ['text', files.text, 415, /not a video ffmpeg can read/],
      ['audio only', files.audioOnly, 415, /has no video stream/],
      ['zero frames', files.zeroFrames, 415, /has no video stream/],
      ['a billion frames', files.billionFrames, 413, /declares 1000000000 frames, over the limit of 18000 \(CITYSEG_JOB_MAX_FRAMES\)/],
      ['100000x100000 frames', files.hugeFrames, 422, /cannot be read/],
      ['10000x10000 frames', files.largeFrames, 413, /10000x10000 = 100000000 pixels, over the limit of 40000000 \(CITYSEG_MAX_PIXELS\)/],
      ['a 10,000-frame GIF', gif, 413, /lasts 1000\.0 s, over the limit of 600 s \(CITYSEG_JOB_MAX_SECONDS\)/],
    ];
    for (const [what, file, status, detail] of expected) {
      const res = await post(app, file, '', 'application/octet-stream');
      assert.equal(res.statusCode, status, `${what}: ${res.body}`);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/, what);
      assert.match((res.json() as { detail: string }).detail, detail, what);
    }
    const big = Buffer.alloc(2 * 1024 * 1024);
    const tooBig = await app.inject({ method: 'POST', url: '/v1/jobs', headers: { 'content-type': 'video/mp4' }, payload: big });
    assert.equal(tooBig.statusCode, 413);
    assert.match(tooBig.json().detail, /CITYSEG_JOB_UPLOAD_LIMIT/);
    const notVideo = await app.inject({ method: 'POST', url: '/v1/jobs', headers: { 'content-type': 'text/plain' }, payload: 'hello' });
    assert.equal(notVideo.statusCode, 415);
    const empty = await app.inject({ method: 'POST', url: '/v1/jobs', headers: { 'content-type': 'video/mp4' }, payload: '' });
    assert.equal(empty.statusCode, 422);
    assert.deepEqual(await readdir(jobsDir), []);
  });

  it('DELETE stops a running job at a frame boundary and removes it with its files', async () => {
    const { app, jobsDir } = await makeApp();
    const { id } = (await post(app, longVideo)).json() as JobView;
    const view = await waitJob(app, id, (v) => v.frames.done >= 2);
    assert.equal(view.status, 'running');
    const deleted = await app.inject({ method: 'DELETE', url: `/v1/jobs/${id}` });
    assert.equal(deleted.statusCode, 204);
    assert.equal((await app.inject({ method: 'GET', url: `/v1/jobs/${id}` })).statusCode, 404);
    assert.equal((await app.inject({ method: 'GET', url: `/v1/jobs/${id}/result` })).statusCode, 404);
    assert.deepEqual(await readdir(jobsDir), []);
  });

  it('caps concurrent jobs (429) and stored jobs (503), both with Retry-After; an image request is served while a job runs', async () => {
    const { app } = await makeApp({ CITYSEG_JOB_CONCURRENCY: '1', CITYSEG_JOB_MAX_STORED: '2' });
    const first = (await post(app, longVideo)).json() as JobView;
    const busy = await post(app, video);
    assert.equal(busy.statusCode, 429, busy.body);
    assert.ok(Number(busy.headers['retry-after']) >= 1);
    assert.match(busy.json().detail, /CITYSEG_JOB_CONCURRENCY/);
    const image = await app.inject({ method: 'POST', url: '/v1/segment?format=json', headers: { 'content-type': 'image/png' }, payload: await encodeImage(64, 48) });
    assert.equal(image.statusCode, 200);
    assert.equal(((await app.inject({ method: 'GET', url: `/v1/jobs/${first.id}` })).json() as JobView).status, 'running');
    await app.inject({ method: 'DELETE', url: `/v1/jobs/${first.id}` });
    const a = (await post(app, video)).json() as JobView;
    await finished(app, a.id);
    const b = (await post(app, video)).json() as JobView;
    await finished(app, b.id);
    const full = await post(app, video);
    assert.equal(full.statusCode, 503, full.body);
    assert.ok(Number(full.headers['retry-after']) >= 1);
    assert.match(full.json().detail, /CITYSEG_JOB_MAX_STORED/);
  });

  it('a video upload has its own deadline (CITYSEG_JOB_UPLOAD_TIMEOUT_MS), not the image requests\' CITYSEG_REQUEST_TIMEOUT_MS', async () => {
    const bytes = await readFile(video);
    const { app } = await makeApp({ CITYSEG_REQUEST_TIMEOUT_MS: '1000', CITYSEG_JOB_UPLOAD_TIMEOUT_MS: '60000' });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    // Some 2 s of arrival, paced under the body idle timeout: past the request timeout, within the upload's.
    const slow = slowUpload(base, bytes, 8, 300);
    const accepted = await slow.answer;
    assert.equal(accepted.status, 202, accepted.body);
    await finished(app, (JSON.parse(accepted.body) as JobView).id);

    const { app: short } = await makeApp({ CITYSEG_REQUEST_TIMEOUT_MS: '60000', CITYSEG_JOB_UPLOAD_TIMEOUT_MS: '1000' });
    const shortBase = await short.listen({ port: 0, host: '127.0.0.1' });
    const cut = await slowUpload(shortBase, bytes, 8, 300).answer;
    assert.equal(cut.status, 408, cut.body);
    assert.match((JSON.parse(cut.body) as { detail: string }).detail, /not complete within 1000 ms of its arrival/);
  });

  it('holds each client to CITYSEG_JOB_CLIENT_UPLOADS uploads arriving at once: 429 problem+json with Retry-After past it', async () => {
    const bytes = await readFile(video);
    const { app } = await makeApp({ CITYSEG_JOB_CLIENT_UPLOADS: '2', CITYSEG_CLIENT_IN_FLIGHT_LIMIT: '100' });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    // Two uploads that send their first bytes and then wait.
    const held = [slowUpload(base, bytes, 2, 60_000), slowUpload(base, bytes, 2, 60_000)];
    for (;;) {
      const metrics = await (await fetch(`${base}/metrics`)).text();
      if (Number(/^cityseg_http_requests_in_flight (\d+)$/m.exec(metrics)?.[1]) > 2) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const third = await slowUpload(base, bytes, 1, 0).answer;
    assert.equal(third.status, 429, third.body);
    assert.equal(third.retryAfter, '1');
    assert.match((JSON.parse(third.body) as { detail: string }).detail, /2 video uploads in flight.*CITYSEG_JOB_CLIENT_UPLOADS/);
    // The share is per route: an image request from the same client is served meanwhile.
    const image = await fetch(`${base}/v1/segment?format=json`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(await encodeImage(64, 48)) });
    assert.equal(image.status, 200);
    for (const upload of held) {
      upload.request.destroy();
      await upload.answer.catch(() => undefined);
    }
    // Their places are given back once their connections close.
    for (;;) {
      const again = await slowUpload(base, bytes, 1, 0).answer;
      if (again.status === 202) {
        await finished(app, (JSON.parse(again.body) as JobView).id);
        break;
      }
      assert.equal(again.status, 429, again.body);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });

  it('refuses sampling parameters out of range with 400 naming the parameter, and an fps that samples no frame with 422', async () => {
    const { app } = await makeApp({ CITYSEG_JOB_MAX_FRAMES: '1000' });
    const refused = {
      'fps=1e309': /querystring\/fps must be a finite number/,
      'every=1e309': /querystring\/every must be a finite number/,
      'fps=241': /querystring\/fps must be <= 240/,
      'fps=0': /querystring\/fps must be > 0/,
      'every=1e15': /querystring\/every must be <= 1000/,
      'every=0': /querystring\/every must be >= 1/,
      'every=1.5': /querystring\/every must be integer/,
      'maxFrames=1e20': /querystring\/maxFrames must be <= 1000/,
      'maxFrames=1001': /querystring\/maxFrames must be <= 1000/,
    };
    for (const [query, detail] of Object.entries(refused)) {
      const res = await post(app, video, `?${query}`);
      assert.equal(res.statusCode, 400, `${query}: ${res.body}`);
      assert.match(res.headers['content-type'] as string, /^application\/problem\+json/);
      assert.match(res.json().detail, detail, query);
    }
    // 6 frames at 5 fps last 1.2 s: 0.01 frames per second samples none of them (ffmpeg rounds to the nearest).
    const none = await post(app, video, '?fps=0.01');
    assert.equal(none.statusCode, 422, none.body);
    assert.equal(none.json().detail, 'querystring/fps 0.01 samples no frame of this 1.2 s video: give at least 0.417');
    const one = await post(app, video, '?fps=0.5');
    assert.equal(one.statusCode, 202, one.body);
    const done = await finished(app, (one.json() as JobView).id);
    assert.equal(done.status, 'succeeded', done.error);
    assert.deepEqual(done.frames, { done: 1, total: 1 });
  });

  it('quotes ffmpeg without the heap addresses of its components', () => {
    assert.equal(
      errorLines('[libx264 @ 0x5616e23a5180] broken ffmpeg/x264 configuration\n[vost#0:0/libx264 @ 0x5616e23a0c40] Error while opening encoder\n'),
      '[libx264] broken ffmpeg/x264 configuration; [vost#0:0/libx264] Error while opening encoder',
    );
  });

  it('answers a Range no byte satisfies 416 with Content-Range: bytes */size, and ignores a malformed one (200, whole file)', async () => {
    const { app } = await makeApp();
    const created = (await post(app, video)).json() as JobView;
    assert.equal((await finished(app, created.id)).status, 'succeeded');
    for (const file of ['result', 'frames.jsonl']) {
      const url = `/v1/jobs/${created.id}/${file}`;
      const whole = await app.inject({ method: 'GET', url });
      assert.equal(whole.statusCode, 200);
      const size = whole.rawPayload.length;
      for (const range of [`bytes=${size}-`, 'bytes=100000-', 'bytes=-0']) {
        const res = await app.inject({ method: 'GET', url, headers: { range } });
        assert.equal(res.statusCode, 416, `${file} ${range}: ${res.body}`);
        assert.equal(res.headers['content-range'], `bytes */${size}`);
        assert.match(res.headers['content-type'] as string, /^application\/problem\+json/);
      }
      for (const range of ['bytes=abc', 'bytes=5-2', 'items=0-1', 'bytes=', 'bytes=1-2-3']) {
        const res = await app.inject({ method: 'GET', url, headers: { range } });
        assert.equal(res.statusCode, 200, `${file} ${range}: ${res.body}`);
        assert.deepEqual(res.rawPayload, whole.rawPayload, `${file} ${range}`);
      }
      const tail = await app.inject({ method: 'GET', url, headers: { range: 'bytes=-10' } });
      assert.equal(tail.statusCode, 206);
      assert.equal(tail.headers['content-range'], `bytes ${size - 10}-${size - 1}/${size}`);
      assert.deepEqual(tail.rawPayload, whole.rawPayload.subarray(size - 10));
    }
  });

  it('removes a finished job once it expires', async () => {
    const { app, jobsDir } = await makeApp({ CITYSEG_JOB_TTL_MS: '1000' });
    const { id } = (await post(app, video)).json() as JobView;
    assert.equal((await finished(app, id)).status, 'succeeded');
    for (;;) {
      if ((await app.inject({ method: 'GET', url: `/v1/jobs/${id}` })).statusCode === 404) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.deepEqual(await readdir(jobsDir), []);
  });

  it('at shutdown a running job stops at a frame and is failed with the reason; after a restart stored results are still served', async () => {
    const first = await makeApp();
    const ok = (await post(first.app, video)).json() as JobView;
    assert.equal((await finished(first.app, ok.id)).status, 'succeeded');
    const stoppedRes = await post(first.app, longVideo);
    assert.equal(stoppedRes.statusCode, 202, stoppedRes.body);
    const stopped = stoppedRes.json() as JobView;
    await waitJob(first.app, stopped.id, (view) => view.frames.done >= 1);
    await first.app.close();
    const again = await makeApp({}, first.jobsDir);
    const failed = (await again.app.inject({ method: 'GET', url: `/v1/jobs/${stopped.id}` })).json() as JobView;
    assert.equal(failed.status, 'failed');
    assert.match(failed.error ?? '', /the server shut down while the job ran \(after \d+ of 750 frames\)/);
    const result = await again.app.inject({ method: 'GET', url: `/v1/jobs/${ok.id}/result` });
    assert.equal(result.statusCode, 200);
    assert.ok(result.rawPayload.length > 1000);
    const conflict = await again.app.inject({ method: 'GET', url: `/v1/jobs/${stopped.id}/result` });
    assert.equal(conflict.statusCode, 409);
    assert.match(conflict.json().detail, /failed: the server shut down/);
  });

  it('with CITYSEG_API_KEYS every job route answers 401 problem+json without a key (no upload kept) and runs with one', async () => {
    const key = 'job-key-5d1f0a9c7e';
    const keys = path.join(dir, 'api-keys');
    await writeFile(keys, `${key}\n`);
    const { app, jobsDir } = await makeApp({ CITYSEG_API_KEYS: keys });
    const auth = { authorization: `Bearer ${key}` };
    const created = await app.inject({ method: 'POST', url: '/v1/jobs', headers: { 'content-type': 'video/mp4', ...auth }, payload: await readFile(video) });
    assert.equal(created.statusCode, 202, created.body);
    const { id } = created.json() as JobView;
    const routes: Array<{ method: 'GET' | 'POST' | 'DELETE'; url: string }> = [
      { method: 'POST', url: '/v1/jobs' },
      { method: 'GET', url: `/v1/jobs/${id}` },
      { method: 'GET', url: `/v1/jobs/${id}/result` },
      { method: 'GET', url: `/v1/jobs/${id}/frames.jsonl` },
      { method: 'DELETE', url: `/v1/jobs/${id}` },
    ];
    for (const { method, url } of routes) {
      for (const authorization of [undefined, 'Bearer not-a-key-0000']) {
        const body = method === 'POST' ? { 'content-type': 'video/mp4' } : {};
        const res = await app.inject({ method, url, headers: { ...body, ...(authorization ? { authorization } : {}) }, ...(method === 'POST' ? { payload: await readFile(video) } : {}) });
        assert.equal(res.statusCode, 401, `${method} ${url} with ${authorization ?? 'no key'}: ${res.body}`);
        assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
        assert.equal(res.json().type, 'urn:cityseg:problem:unauthorized');
        assert.match(String(res.headers['www-authenticate']), /^Bearer realm="cityseg"/);
      }
    }
    // The refused uploads were never written: only the keyed job's folder exists.
    assert.deepEqual(await readdir(jobsDir), [id]);
    for (;;) {
      const view = await app.inject({ method: 'GET', url: `/v1/jobs/${id}`, headers: auth });
      assert.equal(view.statusCode, 200);
      if ((view.json() as JobView).status === 'succeeded') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const result = await app.inject({ method: 'GET', url: `/v1/jobs/${id}/result`, headers: { ...auth, range: 'bytes=0-99' } });
    assert.equal(result.statusCode, 206);
    assert.equal(result.rawPayload.length, 100);
    const frames = await app.inject({ method: 'GET', url: `/v1/jobs/${id}/frames.jsonl`, headers: auth });
    assert.equal(frames.statusCode, 200);
    assert.equal(frames.body.trim().split('\n').length, 6);
    assert.equal((await app.inject({ method: 'DELETE', url: `/v1/jobs/${id}`, headers: auth })).statusCode, 204);
    assert.equal((await app.inject({ method: 'GET', url: `/v1/jobs/${id}`, headers: auth })).statusCode, 404);
  });

  it('counts job routes against the /v1 rate limit, per API key: 429 problem+json with Retry-After past it', async () => {
    const keys = path.join(dir, 'rate-keys');
    await writeFile(keys, 'rate-key-a-31c9e0\nrate-key-b-8e2a44\n');
    const { app } = await makeApp({ CITYSEG_API_KEYS: keys, CITYSEG_RATE_LIMIT_MAX: '3', CITYSEG_RATE_LIMIT_WINDOW_MS: '600000' });
    const a = { authorization: 'Bearer rate-key-a-31c9e0' };
    const b = { authorization: 'Bearer rate-key-b-8e2a44' };
    // One of each kind of job route counts, whatever it answers (404: no such job).
    assert.equal((await app.inject({ method: 'GET', url: '/v1/jobs/absent', headers: a })).statusCode, 404);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/jobs/absent/result', headers: a })).statusCode, 404);
    assert.equal((await app.inject({ method: 'DELETE', url: '/v1/jobs/absent', headers: a })).statusCode, 404);
    for (const request of [
      { method: 'POST' as const, url: '/v1/jobs', headers: { ...a, 'content-type': 'video/mp4' }, payload: await readFile(video) },
      { method: 'GET' as const, url: '/v1/jobs/absent/frames.jsonl', headers: a },
      { method: 'POST' as const, url: '/v1/segment', headers: { ...a, 'content-type': 'image/png' }, payload: await encodeImage(64, 48) },
    ]) {
      const limited = await app.inject(request);
      assert.equal(limited.statusCode, 429, `${request.method} ${request.url}: ${limited.body}`);
      assert.equal(limited.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.ok(Number(limited.headers['retry-after']) >= 1);
      assert.match(limited.json().detail, /more than 3 requests in 600000 ms/);
    }
    // Another key has its own count.
    assert.equal((await app.inject({ method: 'GET', url: '/v1/jobs/absent', headers: b })).statusCode, 404);
  });

  it('answers 503 naming CITYSEG_FFMPEG when ffmpeg cannot be found, and documents the routes in OpenAPI', async () => {
    const { app } = await makeApp({ CITYSEG_FFMPEG: path.join(dir, 'no-ffmpeg') });
    const res = await post(app, video);
    assert.equal(res.statusCode, 503);
    assert.match(res.json().detail, /CITYSEG_FFMPEG/);
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, unknown>> };
    assert.deepEqual(Object.keys(doc.paths['/v1/jobs']), ['post']);
    assert.deepEqual(Object.keys(doc.paths['/v1/jobs/{id}']).sort(), ['delete', 'get']);
    assert.ok(doc.paths['/v1/jobs/{id}/result'].get);
    assert.ok(doc.paths['/v1/jobs/{id}/frames.jsonl'].get);
  });
});
