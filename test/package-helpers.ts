/**
 * The package as it ships, for the tests that install it: `npm pack` on a fresh copy of the sources (as a clone has
 * them), and npm run as a user runs it (npm's defaults: no project config, no ONNXRUNTIME_NODE_INSTALL).
 */
import { execFile, spawn, type ChildProcessByStdio } from 'node:child_process';
import { cp, symlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { cliEnv, freePort } from './cli-helpers.js';

const REPO = path.resolve(import.meta.dirname, '..');
const run = promisify(execFile);

/** Not part of a fresh clone: installed or built output, VCS data, and the tests with their 38 MB of fixtures. */
const NOT_IN_CLONE = new Set(['node_modules', 'dist', '.git', 'test', 'coverage', '.cache']);

/**
 * The environment of a user's shell: no cityseg variables, none of the npm_config_* that `npm test` exports from our
 * .npmrc (onnxruntime-node-install=skip would leak into the user's install), no ONNXRUNTIME_NODE_INSTALL; plus `extra`.
 */
export function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = cliEnv();
  for (const name of Object.keys(env)) {
    if (/^npm_/i.test(name) || /^ONNXRUNTIME_NODE_INSTALL/.test(name)) delete env[name];
  }
  return { ...env, ...extra };
}

/** A command as a child process in `cwd` with userEnv(env). */
export function sh(file: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  return run(file, args, { cwd, env: userEnv(env), maxBuffer: 64 * 1024 * 1024 });
}

/**
 * `cityseg serve` of the installed package in `app` on a free port, polled until /readyz answers 200 (a bound against
 * hanging, not a speed requirement). `logs` collects its stdout and stderr; the caller kills it.
 */
export async function startInstalledServer(app: string): Promise<{ server: ChildProcessByStdio<null, Readable, Readable>; port: number; status: number; logs: () => string }> {
  const port = await freePort();
  const server = spawn(path.join(app, 'node_modules', '.bin', 'cityseg'), ['serve'], {
    cwd: app,
    env: userEnv({ PORT: String(port), HOST: '127.0.0.1', CITYSEG_CLASSIFIER_ARCH: 'none', CITYSEG_INFERENCE_SIZE: '64', LOG_LEVEL: 'warn' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let logs = '';
  server.stdout.setEncoding('utf8').on('data', (chunk: string) => (logs += chunk));
  server.stderr.setEncoding('utf8').on('data', (chunk: string) => (logs += chunk));
  let status = 0;
  for (let attempt = 0; attempt < 600 && status !== 200 && server.exitCode === null; attempt++) {
    status = await fetch(`http://127.0.0.1:${port}/readyz`).then((res) => res.status, () => 0);
    if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return { server, port, status, logs: () => logs };
}

/**
 * NuGet made unreachable for onnxruntime-node's install script only: it sends its downloads through global-agent,
 * which reads these variables (npm itself does not), so the CUDA fetch fails at once with ECONNREFUSED, as it does
 * offline, without touching the npm registry.
 */
export async function nugetUnreachable(): Promise<Record<string, string>> {
  const proxy = `http://127.0.0.1:${await freePort()}`;
  return { GLOBAL_AGENT_HTTP_PROXY: proxy, GLOBAL_AGENT_HTTPS_PROXY: proxy };
}

export interface Packed {
  tarball: string;
  files: string[];
  stderr: string;
}

/** `npm pack` of a fresh copy of the sources into `dir` (its `prepare` script builds dist/). */
export async function packFreshClone(dir: string): Promise<Packed> {
  const source = path.join(dir, 'source');
  await cp(REPO, source, { recursive: true, filter: (from) => !NOT_IN_CLONE.has(path.relative(REPO, from).split(path.sep)[0]) });
  // The build tools of the checkout (prepare runs tsc); a clone would have them from `npm ci`.
  await symlink(path.join(REPO, 'node_modules'), path.join(source, 'node_modules'), 'dir');
  const pack = await sh('npm', ['pack', '--json', '--pack-destination', dir], source);
  const [summary] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  return { tarball: path.join(dir, summary.filename), files: summary.files.map((file) => file.path), stderr: pack.stderr };
}
