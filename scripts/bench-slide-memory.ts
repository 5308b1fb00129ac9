/**
 * Peak memory of a sliding-window segmentation at an image's own size (the bounded-memory figure): an 8K
 * (7680x4320) JPEG made by upscaling a real street image, segmented by the built CLI
 * (`cityseg segment --mode slide --size native`) and/or by the built server (POST /v1/segment?mode=slide
 * &size=native). Prints the machine, wall time, forward passes and peak RSS. A benchmark, not a test.
 *
 *   npm run build && node --import tsx scripts/bench-slide-memory.ts [--image street.png] [--engine onnx] [--via cli|http|both]
 */
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import sharp from 'sharp';

const REPO = path.resolve(import.meta.dirname, '..');
const WIDTH = 7680;
const HEIGHT = 4320;
/** 8K at the default 512x1024 crop and 341x683 stride: 13 x 11 windows. */
const MAX_PASSES = '1000';

const { values: args } = parseArgs({
  options: {
    image: { type: 'string', default: path.resolve(REPO, '../shared/real/demo.png') },
    engine: { type: 'string', default: 'onnx' },
    /** cli, http or both. */
    via: { type: 'string', default: 'cli' },
  },
});

/** The child's own peak RSS, reported by itself as it exits (getrusage ru_maxrss, KiB). */
const REPORT_MAX_RSS = 'data:text/javascript,process.on("exit",()=>process.stderr.write("maxRSS_KiB="+process.resourceUsage().maxRSS+"\\n"))';

function runNode(nodeArgs: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, nodeArgs, { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const mb = (kib: number) => `${(kib / 1024).toFixed(0)} MiB`;

async function benchCli(jpeg: string, outDir: string): Promise<void> {
  const start = performance.now();
  const run = await runNode(
    ['--import', REPORT_MAX_RSS, 'bin/cityseg.js', 'segment', '--mode', 'slide', '--size', 'native', '--engine', args.engine,
      '--max-forward-passes', MAX_PASSES, '--format', 'labelIds,json', '--quiet', '--overwrite', '--out', outDir, jpeg],
  );
  const seconds = (performance.now() - start) / 1000;
  if (run.code !== 0) throw new Error(`cityseg segment failed (${run.code}): ${run.stderr}`);
  const maxRss = Number(/maxRSS_KiB=(\d+)/.exec(run.stderr)?.[1]);
  const json = JSON.parse(await readFile(path.join(outDir, `${path.basename(jpeg, '.jpg')}.json`), 'utf8')) as {
    inference: { forwardPasses: number };
    timings: Record<string, number>;
  };
  const timings = Object.entries(json.timings).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`).join(', ');
  process.stdout.write(
    `CLI  cityseg segment --mode slide --size native (crop 512x1024, stride 341x683, engine ${args.engine}): ` +
      `${json.inference.forwardPasses} forward passes, ${seconds.toFixed(1)} s wall (${timings}); peak RSS ${mb(maxRss)}\n`,
  );
}

/** VmHWM (peak resident set) of a running process, KiB. */
async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1]);
}

/** POST without a client-side timeout (fetch gives up on headers after 300 s; an 8K slide run takes longer). */
function post(url: string, body: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'image/jpeg', 'content-length': body.length } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (s: string) => (text += s));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function benchHttp(jpeg: string): Promise<void> {
  const port = 18000 + Math.floor(Math.random() * 1000);
  const server = spawn(process.execPath, ['dist/server/main.js'], {
    cwd: REPO,
    env: {
      ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', CITYSEG_ENGINE: args.engine,
      CITYSEG_CLASSIFIER_ARCH: 'none', CITYSEG_BODY_LIMIT: '64MiB', CITYSEG_MAX_FORWARD_PASSES: MAX_PASSES,
      CITYSEG_REQUEST_TIMEOUT_MS: '1800000',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      const ready = await fetch(`${base}/readyz`).then((r) => r.ok, () => false);
      if (ready) break;
      if (i > 600) throw new Error('server did not become ready');
      await new Promise((r) => setTimeout(r, 500));
    }
    const idle = await peakRss(server.pid ?? 0);
    const body = await readFile(jpeg);
    const start = performance.now();
    const response = await post(`${base}/v1/segment?mode=slide&size=native&format=json`, body);
    const seconds = (performance.now() - start) / 1000;
    const json = JSON.parse(response.body) as { inference?: { forwardPasses: number }; detail?: string };
    if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${json.detail}`);
    process.stdout.write(
      `HTTP POST /v1/segment?mode=slide&size=native&format=json: ${json.inference?.forwardPasses} forward passes, ` +
        `${seconds.toFixed(1)} s; server peak RSS ${mb(await peakRss(server.pid ?? 0))} (ready and idle: ${mb(idle)})\n`,
    );
  } finally {
    server.kill('SIGTERM');
  }
}

const dir = await mkdtemp(path.join(tmpdir(), 'cityseg-slide-bench-'));
try {
  const jpeg = path.join(dir, 'street_8k.jpg');
  await sharp(args.image).removeAlpha().resize(WIDTH, HEIGHT, { fit: 'fill' }).jpeg({ quality: 90 }).toFile(jpeg);
  process.stdout.write(
    `machine: ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown'}), ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, ` +
      `Node ${process.version}, ${process.platform}-${process.arch}\n` +
      `image: ${WIDTH}x${HEIGHT} JPEG (${((await stat(jpeg)).size / 1e6).toFixed(1)} MB) upscaled from ${args.image}\n`,
  );
  if (args.via !== 'http') await benchCli(jpeg, dir);
  if (args.via !== 'cli') await benchHttp(jpeg);
} finally {
  await rm(dir, { recursive: true, force: true });
}
