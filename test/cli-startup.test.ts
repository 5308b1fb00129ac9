/**
 * `cityseg --help` answers from commander alone: each command's module (and with it sharp, ONNX Runtime, TensorFlow.js,
 * Fastify, autocannon) is imported only when that command runs. Checked by the packages a run loads, not by timing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { CLI_BIN, cliEnv, tempDir } from './cli-helpers.js';

const run = promisify(execFile);

/** A module hook that prints every module a run resolves, one `LOADED <url>` line each, on stderr. */
const TRACE_HOOKS = `export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  process._rawDebug('LOADED ' + result.url);
  return result;
}`;

describe('what a command loads', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let register: string;

  before(async () => {
    ({ dir, cleanup } = await tempDir('startup'));
    await writeFile(path.join(dir, 'trace-hooks.mjs'), TRACE_HOOKS);
    register = path.join(dir, 'register.mjs');
    await writeFile(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(path.join(dir, 'trace-hooks.mjs')).href)});\n`);
  });
  after(() => cleanup());

  /** The npm packages (node_modules/<name>) `cityseg ...args` loads. */
  async function packagesLoaded(args: string[]): Promise<string[]> {
    const { stderr } = await run(process.execPath, ['--import', pathToFileURL(register).href, CLI_BIN, ...args], { env: cliEnv() });
    const names = [...stderr.matchAll(/^LOADED .*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//gm)].map((match) => match[1]);
    return [...new Set(names)].sort();
  }

  it('cityseg --help loads commander and nothing else', async () => {
    assert.deepEqual(await packagesLoaded(['--help']), ['commander']);
  });

  it('a command loads what it needs, never the benchmark load generator or the server it does not run', async () => {
    const [serveHelp, segmentHelp] = await Promise.all([packagesLoaded(['serve', '--help']), packagesLoaded(['segment', '--help'])]);
    // serve imports Fastify only when it starts the service.
    assert.deepEqual(serveHelp, ['commander']);
    for (const heavy of ['autocannon', 'fastify']) assert.ok(!segmentHelp.includes(heavy), `segment loads ${heavy}: ${segmentHelp.join(', ')}`);
  });
});
