/**
 * Reloading the models file without a restart, through the compiled server: POST /v1/admin/reload needs the
 * admin token (401 without); a file that cannot be served leaves the old set serving and is counted as a failure;
 * SIGHUP under a loop of requests adds, changes and removes models with no failed request, and the removed model's
 * requests already in flight are answered.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tempDir } from './cli-helpers.js';
import { readyServer, waitForLog, waitInFlight, type Server } from './server-process.js';
import { encodeImage } from './server-helpers.js';

const TOKEN = 'reload-token-for-tests';

const FIRST = `models:
  - name: a
    arch: lraspp_mobilenet_v3_small
  - name: b
    arch: mobilenet_v3_small
  - name: c
    arch: lraspp_mobilenet_v3_small
    inferenceSize: 512
    scales: [1, 1.5]
    flip: true
`;

/** a kept as it is, b changed (maxBatch), c removed, d added. */
const SECOND = `models:
  - name: a
    arch: lraspp_mobilenet_v3_small
  - name: b
    arch: mobilenet_v3_small
    maxBatch: 2
  - name: d
    arch: lraspp_mobilenet_v3_small
`;

/** A metric sample's value, or undefined. */
function sample(text: string, pattern: RegExp): number | undefined {
  const match = pattern.exec(text);
  return match ? Number(match[1]) : undefined;
}

describe('reloading the models file', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let file: string;
  let server: Server;
  let base: string;
  let image: Buffer;

  before(async () => {
    ({ dir, cleanup } = await tempDir('models-reload'));
    file = path.join(dir, 'models.yaml');
    await writeFile(file, FIRST);
    image = await encodeImage(64, 48, 4);
    // Slow machines must not turn the point of the test (no request lost across a reload) into request timeouts.
    ({ server, base } = await readyServer({ CITYSEG_MODELS: file, CITYSEG_ADMIN_TOKEN: TOKEN, CITYSEG_WORKERS: '1', CITYSEG_REQUEST_TIMEOUT_MS: '180000' }));
  });
  after(async () => {
    server.child.kill('SIGTERM');
    await server.exit;
    await cleanup();
  });

  const names = async () => ((await (await fetch(`${base}/v1/models`)).json()) as { models: { name: string }[] }).models.map((m) => m.name);
  const reload = (authorization?: string) =>
    fetch(`${base}/v1/admin/reload`, { method: 'POST', headers: authorization === undefined ? {} : { authorization } });
  const post = (route: string) => fetch(`${base}${route}`, { method: 'POST', body: new Uint8Array(image), headers: { 'content-type': 'image/png' } });

  it('the admin route answers 401 without the token or with a wrong one', async () => {
    const missing = await reload();
    assert.equal(missing.status, 401);
    assert.equal(missing.headers.get('www-authenticate'), 'Bearer realm="cityseg-admin"');
    const wrong = await reload('Bearer not-the-token');
    assert.equal(wrong.status, 401);
    assert.equal(((await wrong.json()) as { detail: string }).detail, 'the admin token is not valid');
  });

  it('a file that cannot be served: 422 with the one-line reason, the old set keeps serving, the failure is counted', async () => {
    await writeFile(file, `${FIRST}  - name: e\n    weights: ${path.join(dir, 'missing.pth')}\n`);
    const failed = await reload(`Bearer ${TOKEN}`);
    assert.equal(failed.status, 422);
    const problem = (await failed.json()) as { type: string; detail: string };
    assert.equal(problem.type, 'urn:cityseg:problem:unprocessable-models-file');
    assert.match(problem.detail, new RegExp(`^models file ${file}: model "e": .*missing\\.pth`));
    assert.ok(!problem.detail.includes('\n'));

    await writeFile(file, FIRST.replace('arch: mobilenet_v3_small', 'arhc: mobilenet_v3_small'));
    const misspelt = await reload(`Bearer ${TOKEN}`);
    assert.equal(misspelt.status, 422);
    assert.match(((await misspelt.json()) as { detail: string }).detail, /model "b": unknown key "arhc"/);

    assert.deepEqual(await names(), ['a', 'b', 'c']);
    assert.equal((await post('/v1/segment?model=c&format=json')).status, 200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.equal(sample(metrics, /^cityseg_model_reloads_total\{result="failure"\} (\d+)$/m), 2);
    assert.equal(sample(metrics, /^cityseg_model_reloads_total\{result="success"\} (\d+)$/m), undefined);
  });

  it('SIGHUP under load: d added, b changed, c removed, a kept, and not one request fails', async () => {
    await writeFile(file, FIRST);
    const statuses: number[] = [];
    let reloaded = false;
    let afterReload = 0;
    // Three clients in a loop over the models that stay, until each has sent a few requests to the new set.
    const client = async (routes: string[]) => {
      for (let i = 0; afterReload < 9; i++) {
        const res = await post(routes[i % routes.length]);
        await res.arrayBuffer();
        statuses.push(res.status);
        if (reloaded) afterReload += 1;
      }
    };
    const clients = [
      client(['/v1/segment?model=a&format=json', '/v1/classify?model=b']),
      client(['/v1/segment?format=json', '/v1/classify']),
      client(['/v1/classify?model=b&topk=2', '/v1/segment?model=a']),
    ];
    // Requests to c already in flight when the file drops it are answered by c.
    // Each runs 4 passes of up to 768 pixels on c's one thread: some are still queued when the reload swaps the set.
    const large = await encodeImage(512, 384, 5);
    const toRemoved = Array.from({ length: 4 }, () =>
      fetch(`${base}/v1/segment?model=c&format=json`, { method: 'POST', body: new Uint8Array(large), headers: { 'content-type': 'image/png' } }),
    );
    await waitInFlight(base, 4);
    await writeFile(file, SECOND);
    server.child.kill('SIGHUP');
    const line = await waitForLog(server, 'models file reloaded');
    reloaded = true;
    assert.deepEqual({ added: line.added, changed: line.changed, removed: line.removed, kept: line.kept }, { added: ['d'], changed: ['b'], removed: ['c'], kept: ['a'] });
    await Promise.all(clients);

    const removed = await Promise.all(toRemoved);
    assert.deepEqual(
      await Promise.all(removed.map(async (res) => [res.status, ((await res.json()) as { model: string }).model])),
      [['200', 'c'], ['200', 'c'], ['200', 'c'], ['200', 'c']].map(([status, model]) => [Number(status), model]),
    );
    assert.ok(statuses.length >= 9);
    assert.deepEqual(statuses.filter((status) => status !== 200), [], 'failed requests across the reload');

    assert.deepEqual(await names(), ['a', 'b', 'd']);
    const added = await post('/v1/segment?model=d&format=json');
    assert.equal(added.status, 200);
    assert.equal(((await added.json()) as { model: string }).model, 'd');
    assert.equal((await post('/v1/segment?model=c')).status, 404);
    const card = (await (await fetch(`${base}/v1/models/b`)).json()) as { maxBatch: number };
    assert.equal(card.maxBatch, 2);
    // The removed model and b's previous runner are released once idle.
    const released = () => server.logs.filter((l) => l.msg === 'released a model no longer served');
    while (released().length < 2) await sleep(20);
    const releasedModels = released().flatMap((l) => l.models as string[]);
    assert.deepEqual(releasedModels.sort(), ['b', 'c']);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.equal(sample(metrics, /^cityseg_model_reloads_total\{result="success"\} (\d+)$/m), 1);
    assert.equal(sample(metrics, /^cityseg_model_info\{[^}]*model="c"[^}]*\} (\d+)$/m), undefined);
  });

  it('a reload of an unchanged file keeps every model as it is: 200 with the summary', async () => {
    const res = await reload(`Bearer ${TOKEN}`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { added: [], changed: [], removed: [], kept: ['a', 'b', 'd'] });
  });
});
