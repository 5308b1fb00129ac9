/**
 * The memory budget's baseline across reloads: a reload while requests hold memory must not take that memory as
 * the models' (the capacity fell to 0 and stayed there), and a budget that leaves no room for a request makes
 * /readyz fail with the reason instead of a ready server answering every request 503.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../server/app.js';
import { loadConfig } from '../server/config.js';
import { readModelsFile } from '../server/models-file.js';
import { resetBudget } from '../server/model-repository.js';
import { tempDir } from './cli-helpers.js';

const MODELS = `models:
  - name: a
    arch: lraspp_mobilenet_v3_small
    weights: none
    workers: 0
`;

const MiB = 1024 ** 2;

async function repositoryApp(file: string, env: Record<string, string>): Promise<FastifyInstance> {
  // A models file names its own weights: the single-model settings of testConfig would be refused beside it.
  const config = loadConfig({ LOG_LEVEL: 'silent', CITYSEG_MODELS: file, ...env });
  const app = await buildApp(config, { modelEntries: await readModelsFile(file, config) });
  await app.ready();
  await app.repository.start();
  return app;
}

describe('memory budget baseline across reloads', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let file: string;

  before(async () => {
    ({ dir, cleanup } = await tempDir('reload-baseline'));
    file = path.join(dir, 'models.yaml');
    await writeFile(file, MODELS);
  });
  after(() => cleanup());

  it('a reload while requests hold 256 MiB leaves the capacity as it was', async () => {
    const budgetBytes = process.memoryUsage().rss + 1024 * MiB;
    const app = await repositoryApp(file, { CITYSEG_MEMORY_BUDGET: String(budgetBytes) });
    try {
      const { budget, readiness, repository } = app;
      const before = budget.capacity;
      assert.ok(before > 512 * MiB, `capacity ${before}`);
      // What slow readers' answers do to the process: real pages, held in the budget.
      const answers = Buffer.alloc(256 * MiB, 1);
      budget.hold(answers.length);
      try {
        assert.deepEqual(await repository.reload(), { added: [], changed: [], removed: [], kept: ['a'] });
        assert.equal(budget.capacity, before, 'an unchanged set keeps its baseline');
        // A new model is measured by what its own load added, not by the RSS of the moment.
        await writeFile(file, `${MODELS}  - name: b\n    arch: lraspp_mobilenet_v3_small\n    weights: none\n    workers: 0\n`);
        assert.deepEqual((await repository.reload()).added, ['b']);
        const added = before - budget.capacity;
        assert.ok(added >= 0 && added < 200 * MiB, `the new model took ${added} bytes of capacity`);
        assert.equal(readiness.ready, true);
      } finally {
        budget.release(answers.length);
        answers.fill(0);
      }
    } finally {
      await app.close();
      await writeFile(file, MODELS);
    }
  });

  it('a budget with no room for a request: /readyz 503 naming the setting, image routes 503', async () => {
    const app = await repositoryApp(file, { CITYSEG_MEMORY_BUDGET: String(process.memoryUsage().rss) });
    try {
      assert.ok(app.budget.capacity < 16 * MiB);
      const ready = await app.inject('/readyz');
      assert.equal(ready.statusCode, 503);
      assert.match(ready.json().detail, /^the memory budget leaves .* for requests .*: raise CITYSEG_MEMORY_BUDGET or serve fewer models$/);
      const segment = await app.inject({ method: 'POST', url: '/v1/segment', payload: Buffer.from('x'), headers: { 'content-type': 'image/png' } });
      assert.equal(segment.statusCode, 503);
      assert.ok(segment.headers['retry-after']);
    } finally {
      await app.close();
    }
  });

  // Last: the large model's pages stay in this process after it closes, and would skew the budgets above.
  it('a reload whose models would leave no room for requests is refused 422 naming the budget; the old set serves on', async () => {
    const app = await repositoryApp(file, { CITYSEG_MEMORY_BUDGET: String(process.memoryUsage().rss + 4096 * MiB), CITYSEG_ADMIN_TOKEN: 'admin-secret' });
    try {
      const { budget, budgetSource, models } = app;
      // The operator's budget, set to leave 40 MiB for requests beside model a: the large model takes more than that.
      const baseline = Math.floor(budgetSource.bytes * 0.9) - budget.capacity - budget.arenaBytes;
      budgetSource.bytes = Math.ceil((baseline + 40 * MiB) / 0.9);
      resetBudget(app, baseline);
      const capacity = budget.capacity;
      assert.ok(capacity > 30 * MiB && capacity <= 40 * MiB, `capacity ${capacity}`);
      await writeFile(file, `${MODELS}  - name: big\n    arch: fastseg_mobilev3_large\n    weights: none\n    workers: 0\n`);
      const reload = await app.inject({ method: 'POST', url: '/v1/admin/reload', headers: { authorization: 'Bearer admin-secret' } });
      assert.equal(reload.statusCode, 422, reload.body);
      assert.match(reload.headers['content-type'] as string, /^application\/problem\+json/);
      assert.match(
        reload.json().detail,
        /^models file .*: its models need a baseline of .+, which leaves .+ of the .+ memory budget \(setting\) for requests, under the 16\.0 MiB a request needs: raise CITYSEG_MEMORY_BUDGET or serve fewer models$/,
      );
      assert.deepEqual(models.list().map(({ model }) => model.arch), ['lraspp_mobilenet_v3_small']);
      assert.equal(budget.capacity, capacity);
      assert.equal((await app.inject('/readyz')).statusCode, 200);
    } finally {
      await app.close();
      await writeFile(file, MODELS);
    }
  });
});
