/** `cityseg bench --int8 DIR`: the int8 row beside fp32, from the compiled CLI, on two real street images. Timings are not asserted. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runCli, tempDir } from './cli-helpers.js';
import { realFrame, SHARED_REAL_SKIP } from './shared-real.js';

describe('cityseg bench --int8', { skip: SHARED_REAL_SKIP }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;

  before(async () => {
    ({ dir, cleanup } = await tempDir('bench-int8'));
    await copyFile(realFrame('demo.png'), path.join(dir, 'demo.png'));
    await copyFile(realFrame('frankfurt_000000_000294_leftImg8bit.png'), path.join(dir, 'frankfurt.png'));
    await writeFile(path.join(dir, 'broken.jpg'), 'not a jpeg');
  });
  after(() => cleanup());

  it('reports fp32 and int8 p50 and agreement on the readable images, with the noise reference', async () => {
    const run = await runCli(['bench', '--json', '--model-only', '--arch', 'lraspp_mobilenet_v3_small', '--size', '64x128', '--runs', '1', '--warmup', '1', '--int8', dir]);
    assert.equal(run.code, 0, run.stderr);
    const rows = (JSON.parse(run.stdout) as { results: Record<string, unknown>[] }).results;
    assert.deepEqual(rows.map((r) => r.kind), ['model-only', 'int8']);
    const row = rows[1];
    assert.equal(row.arch, 'lraspp_mobilenet_v3_small');
    assert.equal(row.size, '64x128');
    // The broken file is skipped; each of the two images is judged with ranges from the other.
    assert.equal(row.images, 2);
    assert.match(row.calibration as string, /^percentile:99\.99, leave-one-out/);
    assert.equal(row.speedup, Math.round(((row.fp32_p50_ms as number) / (row.int8_p50_ms as number)) * 100) / 100);
    for (const field of ['agreement_pct', 'noise_agreement_pct']) {
      assert.ok((row[field] as number) > 20 && (row[field] as number) < 100, `${field} ${String(row[field])}`);
    }
    for (const field of ['sqnr_db', 'noise_sqnr_db']) assert.ok(Number.isFinite(row[field]) && (row[field] as number) > 0, field);
  });
});
