/**
 * End-to-end HTTP benchmark: a real server in its own process on 127.0.0.1, a 1024x2048 JPEG posted to
 * /v1/segment?format=labelIds by autocannon at several concurrencies, and the server's RSS along the way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { IncomingHttpHeaders } from 'node:http';
import { readFile } from 'node:fs/promises';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import sharp from 'sharp';
import { parseServerTiming, REQUEST_STAGES, type StageName } from '../../segmentation/stages.js';
import { loadAverage, percentile, summarize } from './stats.js';

export interface HttpRow {
  kind: 'http';
  engine: string;
  arch: string;
  size: string;
  concurrency: number;
  requests: number;
  errors: number;
  p50_ms: number;
  p95_ms: number;
  throughput_per_s: number;
  rss_mb: number;
  /** The server's weights (CITYSEG_WEIGHTS; `none` = the untrained seeded network, noisy logits). */
  weights: string;
  /** p50 of each stage as the server reported it (Server-Timing), over this level's requests. */
  stages_p50_ms: Partial<Record<StageName, number>>;
  /** The machine's 1-minute load average when this level finished. */
  load_1m: number;
}

export interface HttpBenchOptions {
  arch: string;
  engine: string;
  workers?: number;
  concurrencies: number[];
  /** Requests per concurrency level (after warm-up). */
  requests: number;
  height: number;
  width: number;
  /** Extra environment for the server (CITYSEG_*). */
  env?: Record<string, string>;
  /** CITYSEG_WEIGHTS for the server; default `none` (seeded, untrained: the benchmark never downloads). */
  weights?: string;
}

/** A street-like synthetic photo: sky, buildings, road, with texture so JPEG size is realistic. */
export async function syntheticJpeg(height: number, width: number): Promise<Buffer> {
  const rgb = Buffer.alloc(height * width * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const noise = ((x * 7919 + y * 104729) % 31) - 15;
      const band = y < height * 0.35 ? [70, 130, 180] : y < height * 0.6 ? [70 + (x % 97), 70, 70] : [128, 64, 128];
      rgb[i] = Math.max(0, Math.min(255, band[0] + noise));
      rgb[i + 1] = Math.max(0, Math.min(255, band[1] + noise));
      rgb[i + 2] = Math.max(0, Math.min(255, band[2] + noise));
    }
  }
  return sharp(rgb, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

/** The server's entry: compiled JS next to us, or the TypeScript source when running under tsx. */
function serverCommand(): { args: string[] } {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = fileURLToPath(new URL(`../../server/main.${fromSource ? 'ts' : 'js'}`, import.meta.url));
  return { args: fromSource ? ['--import', 'tsx', entry] : [entry] };
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return Math.round(kb / 1024);
}

async function waitReady(base: string, child: ChildProcess, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode} before it was ready`);
    const ok = await fetch(`${base}/readyz`).then((r) => r.ok, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('server did not become ready in time');
}

interface Fired {
  result: autocannon.Result;
  latencies: number[];
  seconds: number;
  /** Per stage, the milliseconds each response's Server-Timing header reported. */
  stages: Map<StageName, number[]>;
}

/** Runs `amount` requests over `connections` connections; every response's latency and stage timings are kept. */
async function fire(url: string, body: Buffer, connections: number, amount: number): Promise<Fired> {
  const latencies: number[] = [];
  const stages = new Map<StageName, number[]>();
  const onResponse = (_status: number, _body: string, _context: object, headers: IncomingHttpHeaders | undefined) => {
    const header = headers?.['server-timing'];
    for (const [name, ms] of Object.entries(parseServerTiming(Array.isArray(header) ? header.join(',') : header))) {
      const times = stages.get(name as StageName) ?? [];
      times.push(ms);
      stages.set(name as StageName, times);
    }
  };
  const started = performance.now();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      { url, connections, amount, timeout: 120, requests: [{ method: 'POST', headers: { 'content-type': 'image/jpeg' }, body, onResponse }] },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    instance.on('response', (_client, _status, _bytes, responseTime) => latencies.push(responseTime));
  });
  // autocannon's own duration is in whole seconds: too coarse for a few slow requests.
  return { result, latencies, seconds: (performance.now() - started) / 1000, stages };
}

/** p50 per stage, in the stages' order. */
function stageMedians(stages: Map<StageName, number[]>): Partial<Record<StageName, number>> {
  const out: Partial<Record<StageName, number>> = {};
  for (const { name } of REQUEST_STAGES) {
    const values = stages.get(name);
    if (values?.length) out[name] = Math.round(percentile([...values].sort((a, b) => a - b), 0.5) * 10) / 10;
  }
  return out;
}

export interface SoakRow {
  kind: 'soak';
  engine: string;
  arch: string;
  size: string;
  requests: number;
  errors: number;
  rss_after_warmup_mb: number;
  rss_end_mb: number;
  peak_rss_mb: number;
  rss_growth_pct: number;
}

async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Math.round(Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024);
}

/** Many requests at concurrency 4: does the server's RSS stay flat once warm? */
export async function benchSoak(opts: Omit<HttpBenchOptions, 'concurrencies'>): Promise<SoakRow> {
  return withServer(opts, async (base, child) => {
    const body = await syntheticJpeg(opts.height, opts.width);
    const url = `${base}/v1/segment?format=labelIds`;
    await fire(url, body, 4, 50);
    const before = await rssMb(child.pid!);
    const { result } = await fire(url, body, 4, opts.requests);
    const after = await rssMb(child.pid!);
    return {
      kind: 'soak',
      engine: opts.engine,
      arch: opts.arch,
      size: `${opts.height}x${opts.width}`,
      requests: result.requests.total,
      errors: result.errors + result.non2xx,
      rss_after_warmup_mb: before,
      rss_end_mb: after,
      peak_rss_mb: await peakRssMb(child.pid!),
      rss_growth_pct: Math.round(((after - before) / before) * 1000) / 10,
    };
  });
}

export async function benchHttp(opts: HttpBenchOptions): Promise<HttpRow[]> {
  return withServer(opts, async (base, child) => {
    const body = await syntheticJpeg(opts.height, opts.width);
    const url = `${base}/v1/segment?format=labelIds`;
    await fire(url, body, 1, 2);
    const rows: HttpRow[] = [];
    for (const connections of opts.concurrencies) {
      const { result, latencies, seconds, stages } = await fire(url, body, connections, Math.max(opts.requests, connections * 2));
      const latency = summarize(latencies);
      rows.push({
        kind: 'http',
        engine: opts.engine,
        arch: opts.arch,
        size: `${opts.height}x${opts.width}`,
        concurrency: connections,
        requests: result.requests.total,
        errors: result.errors + result.non2xx,
        p50_ms: latency.p50_ms,
        p95_ms: latency.p95_ms,
        throughput_per_s: Math.round((result.requests.total / seconds) * 100) / 100,
        rss_mb: await rssMb(child.pid!),
        weights: weightsOf(opts),
        stages_p50_ms: stageMedians(stages),
        load_1m: loadAverage(),
      });
    }
    return rows;
  });
}

const weightsOf = (opts: Pick<HttpBenchOptions, 'weights'>) => opts.weights ?? 'none';

/** Starts the real server in its own process on 127.0.0.1, runs `work` once it is ready, then stops it. */
async function withServer<T>(opts: Omit<HttpBenchOptions, 'concurrencies' | 'requests'>, work: (base: string, child: ChildProcess) => Promise<T>): Promise<T> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, serverCommand().args, {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      CITYSEG_ARCH: opts.arch,
      CITYSEG_ENGINE: opts.engine,
      CITYSEG_WEIGHTS: weightsOf(opts),
      CITYSEG_INFERENCE_SIZE: 'native',
      CITYSEG_CLASSIFIER_ARCH: 'none',
      CITYSEG_QUEUE_LIMIT: '256',
      CITYSEG_REQUEST_TIMEOUT_MS: '600000',
      ...(opts.workers !== undefined ? { CITYSEG_WORKERS: String(opts.workers) } : {}),
      ...opts.env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    await waitReady(base, child);
    return await work(base, child);
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit').catch(() => undefined);
  }
}
