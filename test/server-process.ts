/** Test helpers: the compiled server (dist/server/main.js) as a child process, its JSON logs, its readiness. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { SERVER_MAIN, testModelEnv } from './cli-helpers.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface Server {
  child: ChildProcess;
  logs: Record<string, unknown>[];
  stderr: () => string;
  exit: Promise<number | null>;
}

/** Starts the compiled server (dist/server/main.js) with the given settings; collects its JSON log lines. */
export function startServer(env: Record<string, string>): Server {
  const child = spawn(process.execPath, [SERVER_MAIN], {
    cwd: ROOT,
    // One untrained segmentation model and no classifier, what most process tests need; a models file names its own
    // models: the single-model defaults would be refused beside it.
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', CITYSEG_INFERENCE_SIZE: '64', ...(env.CITYSEG_MODELS ? {} : { CITYSEG_CLASSIFIER_ARCH: 'none', ...testModelEnv(env) }), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let pending = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) logs.push(JSON.parse(line));
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exit = once(child, 'exit').then(([code]) => code as number | null);
  return { child, logs, stderr: () => stderr, exit };
}

export async function waitForLog(server: Server, message: string | RegExp, ms = 60_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const line = server.logs.find((l) => (typeof message === 'string' ? l.msg === message : message.test(String(l.msg))));
    if (line) return line;
    if (server.child.exitCode !== null) throw new Error(`server exited (${server.child.exitCode}): ${server.stderr()}`);
    if (Date.now() > deadline) throw new Error(`no log "${message}" within ${ms} ms`);
    await sleep(20);
  }
}

/** Starts a server and waits until it is listening and its models are warmed. */
export async function readyServer(env: Record<string, string>): Promise<{ server: Server; base: string }> {
  const server = startServer(env);
  const listening = await waitForLog(server, /^Server listening at http:\/\/127\.0\.0\.1:\d+$/);
  await waitForLog(server, 'ready');
  return { server, base: String(listening.msg).replace('Server listening at ', '') };
}

/** Resolves once the server has more than `count` requests in flight (the /metrics request itself included). */
export async function waitInFlight(base: string, count: number): Promise<void> {
  for (;;) {
    const text = await (await fetch(`${base}/metrics`)).text();
    const inFlight = Number(/^cityseg_http_requests_in_flight (\d+)$/m.exec(text)?.[1]);
    if (inFlight > count) return;
    await sleep(10);
  }
}

export interface RawAnswer {
  /** Everything the server wrote before closing, as text. */
  text: string;
  /** Milliseconds from connecting to the server closing the connection. */
  closedAfterMs: number;
}

/** Opens a TCP connection, lets `script` write to it, and collects what the server answers until it closes. */
export function rawExchange(base: string, script: (socket: net.Socket) => Promise<void> | void, limitMs = 15_000): Promise<RawAnswer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = net.connect(Number(port), hostname);
    let text = '';
    const guard = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the connection open for ${limitMs} ms; it answered: ${text.slice(0, 200)}`));
    }, limitMs);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(guard);
      resolve({ text, closedAfterMs: performance.now() - started });
    });
    socket.on('connect', () => void Promise.resolve(script(socket)).catch(() => undefined));
  });
}
