/** Test helpers for the CLI tests: run `cityseg` as a child process, make images and read grey PNGs. */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import sharp from 'sharp';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

const REPO = path.resolve(import.meta.dirname, '..');

/** The package's `bin` entry, as npm links it. */
export const CLI_BIN = path.join(REPO, 'bin', 'cityseg.js');

/** The compiled server entry the Dockerfile and `npm start` run. */
export const SERVER_MAIN = path.join(REPO, 'dist', 'server', 'main.js');

/** Variables the model and server flags read: cleared so the developer's shell cannot change a test. */
const CITYSEG_ENV = /^(CITYSEG_|PORT$|HOST$|LOG_LEVEL$)/;

/**
 * torchvision's LR-ASPP Large for the tests of everything but the default model: it takes the tiny images and
 * inference sizes those tests use, where the default (fastseg, 385 px a side at least) would enlarge or refuse them.
 */
export const TORCHVISION_ARCH_ENV = { CITYSEG_ARCH: 'lraspp_mobilenet_v3_large' } as const;

/**
 * Tests are offline: without weights the commands would fetch torchvision's default presets, so the seeded init is
 * asked for explicitly (a test that wants the default path sets these to '' and serves a mirror).
 */
export const UNTRAINED_ENV = { CITYSEG_WEIGHTS: 'none', CITYSEG_CLASSIFIER_WEIGHTS: 'none' } as const;

/**
 * UNTRAINED_ENV, plus TORCHVISION_ARCH_ENV unless `env` or the command line `args` name weights, a models file or an
 * architecture themselves (a checkpoint says its own architecture, which a pinned one would contradict).
 */
export function testModelEnv(env: Record<string, string | undefined> = {}, args: readonly string[] = []): Record<string, string> {
  const weights = env.CITYSEG_WEIGHTS;
  const named = args.some((arg) => /^--(weights|models|arch)(=|$)/.test(arg)) || Boolean(env.CITYSEG_MODELS) || (weights !== undefined && weights !== '' && weights !== 'none');
  return named ? { ...UNTRAINED_ENV } : { ...UNTRAINED_ENV, ...TORCHVISION_ARCH_ENV };
}

/** This process's environment without the cityseg variables, plus testModelEnv, plus `extra`. */
export function cliEnv(extra: Record<string, string> = {}, args: readonly string[] = []): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !CITYSEG_ENV.test(name)));
  return { ...clean, ...testModelEnv(extra, args), ...extra };
}

/**
 * `cityseg ...args` as a child process: the shipped entry `bin/cityseg.js`, i.e. tsc's output in dist/ (built by
 * `npm test` before the tests run), never the TypeScript sources: what users run is what is tested.
 */
export function spawnCli(args: readonly string[], env: Record<string, string> = {}): ChildProcessByStdio<null, Readable, Readable> {
  return spawn(process.execPath, [CLI_BIN, ...args], { cwd: REPO, env: cliEnv(env, args), stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs `cityseg ...args` to the end, stdin closed, stdout/stderr collected. */
export function runCli(args: readonly string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, env);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export const fixture = (...parts: string[]) => path.join(REPO, 'test', 'fixtures', ...parts);

/** A fresh temporary folder, removed by the returned cleanup. */
export async function tempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), `cityseg-${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** An RGB image with a smooth colour ramp (so an untrained model still sees structure). */
export function rampImage(width: number, height: number) {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = (x * 255) / Math.max(1, width - 1);
      data[i + 1] = (y * 255) / Math.max(1, height - 1);
      data[i + 2] = ((x + y) * 97) % 256;
    }
  }
  return sharp(data, { raw: { width, height, channels: 3 } });
}

/** An 8-bit one-channel PNG of the given values (label ids, trainIds). */
export function greyPng(values: Uint8Array, width: number, height: number): Promise<Buffer> {
  return sharp(values, { raw: { width, height, channels: 1 } }).toColourspace('b-w').png().toBuffer();
}

/** The pixels of an image file as raw bytes, with its size and channel count. */
export async function readPixels(file: string): Promise<{ data: Buffer; width: number; height: number; channels: number }> {
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

/** A port nothing listens on right now (free to listen on, or to point a client at for a refused connection). */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}
