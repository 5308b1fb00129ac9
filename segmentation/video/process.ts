/**
 * ffmpeg child processes that never outlive their use: each is killed (SIGKILL) when its owner stops, when the
 * owner's signal aborts, and when this process exits; the tail of its stderr is kept for error messages.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';

const live = new Set<ChildProcessByStdio<Writable | null, Readable, Readable>>();
let exitHookInstalled = false;

function killAllOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

/** Bytes of stderr kept for the error message (ffmpeg's last lines say what went wrong). */
const STDERR_TAIL = 4096;

export interface ToolProcess {
  child: ChildProcessByStdio<Writable | null, Readable, Readable>;
  /** Resolves with the exit code (a signal counts as -1) once the process has exited and its pipes closed. */
  exited: Promise<number>;
  /** The last few KB of stderr, as text. */
  stderrTail(): string;
  kill(): void;
}

export interface ToolOptions {
  /** Give the child a stdin pipe (the encoder); otherwise stdin is /dev/null. */
  stdin?: boolean;
  /** Or: the child reads this file as its stdin. */
  stdinFile?: string;
  signal?: AbortSignal;
  /** Called with each stderr chunk (the decoder reads frame timestamps from it). */
  onStderr?: (text: string) => void;
}

/** Starts `command args` tracked as above. */
export function startTool(command: string, args: readonly string[], opts: ToolOptions = {}): ToolProcess {
  const stdinFd = opts.stdinFile === undefined ? undefined : openSync(opts.stdinFile, 'r');
  let child: ChildProcessByStdio<Writable | null, Readable, Readable>;
  try {
    child = spawn(command, args, { stdio: [stdinFd ?? (opts.stdin ? 'pipe' : 'ignore'), 'pipe', 'pipe'] }) as ChildProcessByStdio<Writable | null, Readable, Readable>;
  } finally {
    // The child holds its own copy of the descriptor.
    if (stdinFd !== undefined) closeSync(stdinFd);
  }
  killAllOnExit();
  live.add(child);
  let tail = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    opts.onStderr?.(text);
    tail = (tail + text).slice(-STDERR_TAIL);
  });
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const onAbort = () => kill();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) kill();
  const exited = new Promise<number>((resolve) => {
    // 'error' (spawn failure) is followed by 'close'.
    child.on('error', (err) => (tail += `\n${err.message}`));
    child.on('close', (code) => {
      live.delete(child);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve(code ?? -1);
    });
  });
  return { child, exited, stderrTail: () => tail, kill };
}

/** ffmpeg's stderr without its progress and per-frame lines: the lines worth quoting in an error. */
export function errorLines(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.includes('Parsed_showinfo'))
    // "[libx264 @ 0x5616e23a5180]": a heap address of the server's process means nothing to a client.
    .map((line) => line.replace(/ @ 0x[0-9a-f]+\]/gi, ']'));
  return lines.slice(-3).join('; ');
}

/** Runs `command args` to the end with a time limit, collecting stdout up to `maxBytes`. */
export async function runTool(
  command: string,
  args: readonly string[],
  limits: { timeoutMs: number; maxBytes: number },
  stdinFile?: string,
): Promise<{ code: number; stdout: string; stderr: string; timedOut: boolean }> {
  const tool = startTool(command, args, { stdinFile });
  let stdout = '';
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    tool.kill();
  }, limits.timeoutMs);
  tool.child.stdout.setEncoding('utf8').on('data', (text: string) => {
    stdout += text;
    if (stdout.length > limits.maxBytes) tool.kill();
  });
  const code = await tool.exited;
  clearTimeout(timer);
  return { code, stdout, stderr: tool.stderrTail(), timedOut };
}
