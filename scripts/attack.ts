/**
 * Issue 9's attacks at full size against the compiled server (dist/server/main.js, default settings but
 * CITYSEG_MEMORY_BUDGET, 2GiB unless ATTACK_BUDGET says otherwise), one after the other. For each: the statuses
 * (or how connections ended), the server's peak RSS during it (VmHWM, reset between attacks), /healthz latency
 * (p50, p99, max) polled every 50 ms from a separate process meanwhile (during the last attack the server shuts
 * down: the failed probes then count as 10 s), the server's own largest event-loop delay, and the machine's load.
 * ATTACKS=2,8 runs only those rows (1-based); ATTACK_REPEAT=n runs each attack n times; ATTACK_SCALE (default 1,
 * the issue's full size) scales the client count of the slow-reader row (0.1 fits a shared 2-core machine).
 * Legitimate clients of a row come from other loopback addresses (127.0.0.2-5, Linux) than its attacker, since the
 * server shares its in-flight places per client address. The
 * server serves the default two models from a models file (so a reload can be exercised) with an admin token.
 * Prints a Markdown table; asserts nothing.
 *
 * Run: npm run build && node --import tsx scripts/attack.ts
 * Only 127.0.0.1 is ever contacted; every loop is bounded.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { endEveryLine, rle8File } from '../test/hostile-bmp.js';

const BUDGET = process.env.ATTACK_BUDGET ?? '2GiB';
/** The server's port (ATTACK_PORT, for when another run holds the default). */
const PORT = Number(process.env.ATTACK_PORT ?? 18931);
const ROOT = new URL('..', import.meta.url).pathname;

interface Row {
  attack: string;
  outcome: string;
  peakRssMB: number;
  healthP50: number;
  healthP99: number;
  healthMax: number;
  /** The server's largest event-loop delay during the attack (NaN once it has exited). */
  lagMax: number;
  /** Load average (1 min) when the attack ended: the two cores are shared. */
  load: number;
}

/** Node options for the server only (ATTACK_NODE_ARGS, e.g. "--trace-gc --cpu-prof"), for finding what holds its loop. */
const NODE_ARGS = process.env.ATTACK_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
/** Client counts of the newer rows, times this (the issue's full size at 1). */
const SCALE = Number(process.env.ATTACK_SCALE ?? 1);
const scaled = (clients: number) => Math.max(2, Math.round(clients * SCALE));
const ADMIN_TOKEN = 'attack-admin-token';
const SEG_MODEL = 'lraspp_mobilenet_v3_large';
const modelsDir = mkdtempSync(path.join(os.tmpdir(), 'cityseg-attack-'));
const MODELS_FILE = path.join(modelsDir, 'models.yaml');
writeFileSync(MODELS_FILE, `models:\n  - name: ${SEG_MODEL}\n    arch: ${SEG_MODEL}\n  - name: mobilenet_v3_large\n    arch: mobilenet_v3_large\n`);
const child = spawn(process.execPath, [...NODE_ARGS, 'dist/server/main.js'], {
  cwd: ROOT,
  env: {
    ...process.env,
    HOST: '127.0.0.1',
    PORT: String(PORT),
    CITYSEG_MEMORY_BUDGET: BUDGET,
    CITYSEG_SHUTDOWN_TIMEOUT_MS: '5000',
    CITYSEG_MODELS: MODELS_FILE,
    CITYSEG_ADMIN_TOKEN: ADMIN_TOKEN,
    LOG_LEVEL: 'warn',
  },
  stdio: ['ignore', NODE_ARGS.length ? 'inherit' : 'ignore', 'inherit'],
});
const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? String(code))));
const BASE = `http://127.0.0.1:${PORT}`;

const status = (pid: number) => readFileSync(`/proc/${pid}/status`, 'utf8');
/** Peak RSS since the last reset (the last one seen, once the server has exited). */
let lastPeak = NaN;
const peakRss = () => {
  try {
    // A process that has exited but is not yet reaped still has a status file, without its memory lines.
    const kB = /VmHWM:\s+(\d+) kB/.exec(status(child.pid as number))?.[1];
    if (kB !== undefined) lastPeak = Number(kB) * 1024;
  } catch {
    // exited: keep the last reading
  }
  return lastPeak;
};
const sampler = setInterval(peakRss, 200);
const resetPeak = () => writeFileSync(`/proc/${child.pid}/clear_refs`, '5');

async function waitReady(): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    try {
      if ((await fetch(`${BASE}/readyz`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error('server not ready after 120 s');
}

/**
 * Polls /healthz every 50 ms until stopped, from a process of its own and on a new connection each time, as a
 * kubelet probes (the attack's own event loop, busy writing gigabytes, must not delay the probe; a kept-alive
 * connection would skip the accept that a real probe waits for); returns the latencies in ms (a failed probe counts
 * as 10 s).
 */
const PROBE = `
const http = await import('node:http');
const probeOnce = () => new Promise((resolve, reject) => {
  const request = http.get(process.argv[1] + '/healthz', { agent: false, timeout: 10000 }, (response) => {
    response.resume();
    response.on('end', () => (response.statusCode === 200 ? resolve() : reject(new Error(String(response.statusCode)))));
  });
  request.on('timeout', () => request.destroy(new Error('timeout')));
  request.on('error', reject);
});
const latencies = [];
let running = true;
process.stdin.on('data', () => { running = false; }).resume();
while (running) {
  const started = performance.now();
  try {
    await probeOnce();
    latencies.push(performance.now() - started);
  } catch {
    latencies.push(10000);
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
}
process.stdout.write(JSON.stringify(latencies), () => process.exit(0));
`;

function healthProbe(): { stop: () => Promise<number[]> } {
  const probe = spawn(process.execPath, ['--input-type=module', '-e', PROBE, BASE], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  probe.stdout.on('data', (chunk: Buffer) => (out += chunk));
  const exited = new Promise((resolve) => probe.once('exit', resolve));
  return {
    stop: async () => {
      probe.stdin.end('stop');
      await exited;
      return JSON.parse(out) as number[];
    },
  };
}

/** The server's own largest event-loop delay since the last call (prom-client resets it at each scrape), in ms. */
async function eventLoopLagMax(): Promise<number> {
  try {
    const text = await (await fetch(`${BASE}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
    return Number(/^cityseg_nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(text)?.[1]) * 1000;
  } catch {
    return NaN;
  }
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN;
};

function count(outcomes: (number | string)[]): string {
  const counts = new Map<string, number>();
  for (const o of outcomes) counts.set(String(o), (counts.get(String(o)) ?? 0) + 1);
  return [...counts].map(([k, v]) => `${v}x ${k}`).join(', ');
}

/**
 * Posts `body` from the loopback address `from` (the per-client share counts per address: the legitimate clients of
 * a row come from other addresses than its attacker, as they would); resolves with the status, or how it failed.
 */
function post(path: string, body: Uint8Array, type = 'image/jpeg', from = '127.0.0.1'): Promise<number | string> {
  return new Promise((resolve) => {
    const request = http.request(
      `${BASE}${path}`,
      { method: 'POST', agent: false, localAddress: from, timeout: 180_000, headers: { 'content-type': type, 'content-length': body.length } },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 'no status'));
        response.on('error', (error: NodeJS.ErrnoException) => resolve(`error reading the answer (${error.code ?? error.message})`));
      },
    );
    request.on('timeout', () => request.destroy(new Error('no answer in 180 s')));
    request.on('error', (error: NodeJS.ErrnoException) => resolve(`error ${error.code ?? error.message}`));
    request.end(body);
  });
}

/** The loopback address of the i-th of many legitimate clients (four addresses, 127.0.0.2 to 127.0.0.5). */
const clientAddress = (i: number) => `127.0.0.${2 + (i % 4)}`;

/** A raw connection that writes `head` and then `chunks` every `everyMs`; resolves with how it ended. */
function rawClient(head: string, chunk: Buffer, chunks: number, everyMs: number, limitMs: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(PORT, '127.0.0.1');
    let text = '';
    const started = performance.now();
    const guard = setTimeout(() => {
      socket.destroy();
      resolve('still open at the limit');
    }, limitMs);
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (text += d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(guard);
      const code = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 'closed without answer';
      resolve(`${code} in ${Math.round((performance.now() - started) / 1000)} s`);
    });
    socket.on('connect', async () => {
      socket.write(head);
      for (let i = 0; i < chunks && !socket.destroyed; i++) {
        socket.write(chunk);
        if (everyMs > 0) await sleep(everyMs);
      }
    });
  });
}

/** The memory budget's gauges from /metrics, in MB. */
async function budgetMB(): Promise<Record<string, number>> {
  const text = await (await fetch(`${BASE}/metrics`)).text();
  const gauges: Record<string, number> = {};
  for (const match of text.matchAll(/^cityseg_memory_budget_bytes\{kind="(\w+)"\} (\S+)$/gm)) gauges[match[1]] = Math.round(Number(match[2]) / 1e6);
  return gauges;
}

/**
 * A client that posts `body` and then reads its answer at `bytesPerSecond`, for at most `limitMs`; resolves with the
 * status it read and how the connection ended.
 */
function slowReader(head: string, body: Buffer, bytesPerSecond: number, limitMs: number, from = '127.0.0.1'): { done: Promise<string>; stop: () => void } {
  const socket = net.connect({ port: PORT, host: '127.0.0.1', localAddress: from });
  let first = '';
  let ended = 'cut';
  const done = new Promise<string>((resolve) => {
    const started = performance.now();
    const tick = setInterval(() => {
      const chunk = socket.read(Math.min(bytesPerSecond, socket.readableLength || bytesPerSecond)) as Buffer | null;
      if (chunk && first.length < 16) first += chunk.toString('latin1', 0, 16);
    }, 1000);
    const guard = setTimeout(() => {
      ended = 'still reading at the limit';
      socket.destroy();
    }, limitMs);
    socket.on('error', () => undefined);
    socket.on('end', () => (ended = 'ended'));
    socket.on('close', () => {
      clearInterval(tick);
      clearTimeout(guard);
      const code = /^HTTP\/1\.1 (\d{3})/.exec(first)?.[1] ?? 'no status';
      resolve(`${code} ${ended} after ${Math.round((performance.now() - started) / 1000)} s`);
    });
  });
  socket.pause();
  socket.on('connect', () => {
    socket.write(head);
    socket.write(body);
  });
  return { done, stop: () => socket.destroy() };
}

/** A client that sends headers announcing 20 MiB and nothing more, reconnecting whenever closed, until stopped. */
function announcer(expectContinue: boolean): { stop: () => void; connections: () => number } {
  let stopped = false;
  let connections = 0;
  let socket: net.Socket | undefined;
  const open = () => {
    if (stopped) return;
    connections += 1;
    socket = net.connect(PORT, '127.0.0.1', () =>
      socket?.write(`POST /v1/segment HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 20971520\r\n${expectContinue ? 'Expect: 100-continue\r\n' : ''}\r\n`),
    );
    socket.on('error', () => undefined);
    socket.on('close', () => void sleep(50).then(open));
  };
  open();
  return {
    stop: () => {
      stopped = true;
      socket?.destroy();
    },
    connections: () => connections,
  };
}

const ONLY = process.env.ATTACKS ? new Set(process.env.ATTACKS.split(',').map(Number)) : undefined;
const REPEAT = Number(process.env.ATTACK_REPEAT ?? 1);
let attackNumber = 0;

/** Runs an attack (ATTACK_REPEAT times, but a shutdown once) unless ATTACKS leaves it out; one row per run. */
async function measure(attack: string, run: () => Promise<string>): Promise<Row[]> {
  attackNumber += 1;
  if (ONLY && !ONLY.has(attackNumber)) return [];
  const rows: Row[] = [];
  for (let i = 0; i < (attack.startsWith('SIGTERM') ? 1 : REPEAT); i++) rows.push(await measureOnce(attack, run));
  return rows;
}

async function measureOnce(attack: string, run: () => Promise<string>): Promise<Row> {
  await sleep(500);
  resetPeak();
  await eventLoopLagMax();
  const probe = healthProbe();
  await sleep(200);
  const outcome = await run();
  await sleep(200);
  const latencies = await probe.stop();
  const lagMax = await eventLoopLagMax();
  const row = {
    attack,
    outcome,
    peakRssMB: Math.round(peakRss() / 1e6),
    ...(process.env.ATTACK_DEBUG ? { slowest: [...latencies].sort((a, b) => b - a).slice(0, 6).map(Math.round), probes: latencies.length } : {}),
    healthP50: Math.round(quantile(latencies, 0.5)),
    healthP99: Math.round(quantile(latencies, 0.99)),
    healthMax: Math.round(Math.max(...latencies)),
    lagMax: Math.round(lagMax),
    load: os.loadavg()[0],
  };
  process.stderr.write(`${JSON.stringify(row)}\n`);
  return row;
}

const jpegOf = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).jpeg({ quality: 60 }).toBuffer();

async function main(): Promise<void> {
  await waitReady();
  const rows: Row[] = [];
  const strip = await sharp({ create: { width: 9_000_000, height: 1, channels: 3, background: '#808080' } }).png().toBuffer();
  const huge = await jpegOf(6320, 6320);
  const square = await jpegOf(3000, 3000);
  const frame = await jpegOf(2048, 1024);
  const wide = await sharp({ create: { width: 65_501, height: 2, channels: 3, background: '#405060' } }).png().toBuffer();
  const thread = await sharp({ create: { width: 200_001, height: 1, channels: 3, background: '#405060' } }).png().toBuffer();

  rows.push(...await measure('2x 9,000,000x1 PNG (110 KB), size=native', async () => count(await Promise.all([1, 2].map(() => post('/v1/segment?size=native', strip, 'image/png'))))));
  rows.push(...await measure('6320x6320 JPEG, size=native', async () => count([await post('/v1/segment?size=native', huge)])));
  rows.push(...await measure('6320x6320 JPEG, size=4096', async () => count([await post('/v1/segment?size=4096', huge)])));
  rows.push(...await measure('3000x3000 JPEG, size=native', async () => count([await post('/v1/segment?size=native', square)])));
  rows.push(...await measure('3000x3000 JPEG, size=2048, 4 at once', async () => count(await Promise.all([1, 2, 3, 4].map(() => post('/v1/segment?size=2048', square))))));
  rows.push(...await measure('16x 2048x1024 JPEG, size=native, overlay', async () => count(await Promise.all(Array.from({ length: 16 }, () => post('/v1/segment?size=native&format=overlay', frame))))));
  rows.push(...await measure('overlay of a 65,501x2 image; classify 200,001x1; alpha=Infinity', async () =>
    count([await post('/v1/segment?format=overlay', wide, 'image/png'), await post('/v1/classify', thread, 'image/png'), await post('/v1/segment?alpha=Infinity&format=overlay', frame)]),
  ));
  const head20 = 'POST /v1/segment HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 20971520\r\n\r\n';
  rows.push(...await measure('100 uploads stopping at 19 of 20 MiB', async () =>
    count(await Promise.all(Array.from({ length: 100 }, () => rawClient(head20, Buffer.alloc(1024 * 1024, 0xff), 19, 0, 120_000)))),
  ));
  const head1k = 'POST /v1/segment HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 1024\r\n\r\n';
  rows.push(...await measure('500 bodies at one byte per 5 s', async () =>
    count(await Promise.all(Array.from({ length: 500 }, () => rawClient(head1k, Buffer.from([0xff]), 1024, 5000, 120_000)))),
  ));
  const boundary = 'b0undary';
  const mp = (body: string | Buffer, type = `multipart/form-data; boundary=${boundary}`) => post('/v1/segment?format=json', Buffer.isBuffer(body) ? body : Buffer.from(body), type);
  const part = (headers: string, bytes: Buffer) => Buffer.concat([Buffer.from(`--${boundary}\r\n${headers}\r\n\r\n`), bytes, Buffer.from('\r\n')]);
  const closing = Buffer.from(`--${boundary}--\r\n`);
  const image = Buffer.from(await jpegOf(64, 64));
  rows.push(...await measure('multipart: 90 KiB part header; 17 KiB part without disposition; no closing boundary; junk; no boundary; two images', async () =>
    count([
      await mp(Buffer.concat([part(`Content-Disposition: form-data; name="image"; filename="a.jpg"\r\nX-Pad: ${'a'.repeat(90 * 1024)}`, image), closing])),
      await mp(Buffer.concat([part('Content-Type: image/jpeg', Buffer.alloc(17_000, 1)), part('Content-Disposition: form-data; name="image"; filename="a.jpg"', image), closing])),
      await mp(part('Content-Disposition: form-data; name="image"; filename="a.jpg"', image)),
      await mp('junk junk junk'),
      await mp(Buffer.concat([part('Content-Disposition: form-data; name="image"; filename="a.jpg"', image), closing]), 'multipart/form-data'),
      await mp(Buffer.concat([part('Content-Disposition: form-data; name="image"; filename="a.jpg"', image), part('Content-Disposition: form-data; name="image"; filename="b.jpg"', image), closing])),
    ]),
  ));
  rows.push(...await measure('60 concurrent 2048x1024 JPEG, size=native (overload), from 4 addresses', async () => count(await Promise.all(Array.from({ length: 60 }, (_, i) => post('/v1/segment?size=native&format=labelIds', frame, 'image/jpeg', clientAddress(i)))))));

  // Slow readers and a reload meanwhile: a flat 6320x6320 PNG (131 KB) whose /v2 JSON
  // answer is ~80 MB, read at 1 KiB/s; the budget's gauges are read while they hold their answers.
  const flat = await sharp({ create: { width: 6320, height: 6320, channels: 3, background: '#808080' } }).png().toBuffer();
  const inferJson = Buffer.from(JSON.stringify({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [flat.toString('base64')] }] }));
  const inferHead = `POST /v2/models/${SEG_MODEL}/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${inferJson.length}\r\n\r\n`;
  const small = await jpegOf(200, 150);
  const readers = scaled(60);
  rows.push(...await measure(`${readers} slow readers (1 KiB/s, 4 addresses) of an 80 MB /v2 JSON answer; a reload and a ${Math.round(small.length / 1000)} KB upload meanwhile`, async () => {
    const before = await budgetMB();
    // From four addresses, so the per-address share does not refuse them before the budget is tested.
    const clients = Array.from({ length: readers }, (_, i) => slowReader(inferHead, inferJson, 1024, 60_000, clientAddress(i)));
    await sleep(20_000);
    const held = await budgetMB();
    const reload = await fetch(`${BASE}/v1/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const after = await budgetMB();
    const upload = await post('/v1/segment?format=labelIds', small);
    const outcomes = await Promise.all(clients.map((c) => c.done));
    const upload2 = await post('/v1/segment?format=labelIds', small);
    const end = await budgetMB();
    return `readers: ${count(outcomes)}; budget MB capacity ${before.capacity}, reserved while held ${held.reserved} (peak ${held.peak}); reload ${reload.status}, capacity after it ${after.capacity}; upload meanwhile ${upload}, after ${upload2}; reserved at the end ${end.reserved}`;
  }));

  // A hostile RLE8 BMP (item 3): every line ended, 16 MB; legitimate uploads from another address meanwhile.
  const hostile = rle8File(64, 64, endEveryLine(16 * 1024 * 1024));
  rows.push(...await measure(`${Math.round(hostile.length / 1e6)} MB RLE8 BMP ending every line; 10 ${Math.round(small.length / 1000)} KB uploads from another address meanwhile`, async () => {
    const started = performance.now();
    const bmp = post('/v1/segment?format=labelIds', hostile, 'image/bmp').then((status) => `${status} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    await sleep(1000);
    const statuses: (number | string)[] = [];
    let slowest = 0;
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      statuses.push(await post('/v1/segment?format=labelIds', small, 'image/jpeg', clientAddress(i)));
      slowest = Math.max(slowest, performance.now() - t0);
    }
    return `BMP: ${await bmp}; uploads: ${count(statuses)}, slowest ${Math.round(slowest)} ms`;
  }));

  // Bodies announced but never sent (item 4): headers-only connections, half with Expect: 100-continue, reconnecting,
  // while legitimate small uploads come one after the other.
  // Cheap for the machine: always 100, more than the 66 places under the default in-flight cap.
  const announcers = 100;
  rows.push(...await measure(`${announcers} connections from one address announcing 20 MiB and sending nothing, reconnecting; 20 ${Math.round(small.length / 1000)} KB uploads from other addresses meanwhile`, async () => {
    const holders = Array.from({ length: announcers }, (_, i) => announcer(i % 2 === 1));
    await sleep(2000);
    const statuses: (number | string)[] = [];
    let slowest = 0;
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      statuses.push(await post('/v1/segment?format=labelIds', small, 'image/jpeg', clientAddress(i)));
      slowest = Math.max(slowest, performance.now() - started);
    }
    const reserved = (await budgetMB()).reserved;
    for (const holder of holders) holder.stop();
    const connections = holders.reduce((sum, holder) => sum + holder.connections(), 0);
    return `uploads: ${count(statuses)}, slowest ${Math.round(slowest)} ms; budget reserved ${reserved} MB; ${connections} attacker connections`;
  }));

  // A second SIGTERM 0.5 s after the first, while forward passes run (item 7): answers, then the exit status.
  rows.push(...await measure('SIGTERM twice with 60 requests (from 4 addresses) in flight, shutdown budget 5 s', async () => {
    const inFlight = Array.from({ length: 60 }, (_, i) => post('/v1/segment?size=native&format=labelIds', frame, 'image/jpeg', clientAddress(i)));
    await sleep(1500);
    child.kill('SIGTERM');
    await sleep(500);
    child.kill('SIGTERM');
    const outcomes = await Promise.all(inFlight);
    return `${count(outcomes.map((o) => (typeof o === 'string' ? `cut without answer: ${o}` : o)))}; exit ${await exited}`;
  }));

  console.log(`Attacks on ${os.cpus()[0].model.trim()}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}; CITYSEG_MEMORY_BUDGET=${BUDGET}, other settings default.\n`);
  console.log('| attack | answers | peak RSS (MB) | /healthz p50 / p99 / max (ms) | server event-loop delay max (ms) | load |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.attack} | ${r.outcome} | ${r.peakRssMB} | ${r.healthP50} / ${r.healthP99} / ${r.healthMax} | ${Number.isNaN(r.lagMax) ? '–' : r.lagMax} | ${r.load.toFixed(1)} |`);
  }
}

try {
  await main();
} finally {
  clearInterval(sampler);
  child.kill('SIGTERM');
  rmSync(modelsDir, { recursive: true, force: true });
}
