/** A progress bar with rate and ETA on an interactive stderr; nothing at all in pipes, logs or with --quiet. */
import { MultiBar, Presets } from 'cli-progress';

export interface Progress {
  /** One more item done. */
  tick(): void;
  /** A line for the user (a problem report), printed above the bar when one is shown. */
  log(line: string): void;
  stop(): void;
}

export interface ProgressOptions {
  total: number;
  /** What is counted, e.g. `segment`; shown left of the bar. */
  label: string;
  quiet?: boolean;
  /** The rate's unit on the bar (default `img/s`). */
  unit?: string;
  /** Defaults to process.stderr; the bar is drawn only when it is a TTY. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
}

/** Items per second over the time since `startedMs` (0 before any time has passed). */
export function ratePerSecond(done: number, startedMs: number, nowMs = performance.now()): number {
  const seconds = (nowMs - startedMs) / 1000;
  return seconds > 0 ? done / seconds : 0;
}

/** Lines only: what a non-interactive stream gets. */
function plainProgress(stream: NodeJS.WritableStream): Progress {
  return {
    tick() {},
    log: (line) => void stream.write(`${line}\n`),
    stop() {},
  };
}

function barProgress({ total, label, stream, unit = 'img/s' }: ProgressOptions & { stream: NodeJS.WritableStream }): Progress {
  // MultiBar (even for one bar) because only it can print log lines above the bar without tearing it.
  const bars = new MultiBar(
    {
      stream: stream as NodeJS.WriteStream,
      format: `${label} [{bar}] {percentage}% | {value}/{total} | {rate} ${unit} | ETA {eta_formatted}`,
      // No terminal modes (hidden cursor, no line wrap) that a Ctrl-C would leave behind; a short bar fits 80 columns.
      hideCursor: false,
      linewrap: true,
      barsize: 20,
      clearOnComplete: false,
      etaBuffer: 20,
    },
    Presets.shades_classic,
  );
  const bar = bars.create(total, 0, { rate: '0.00' });
  const startedMs = performance.now();
  let done = 0;
  return {
    tick() {
      done++;
      bar.increment(1, { rate: ratePerSecond(done, startedMs).toFixed(2) });
    },
    log: (line) => bars.log(`${line}\n`),
    stop() {
      // stop() alone drops log lines still buffered for the next redraw (e.g. the last file's failure).
      bars.update();
      bars.stop();
    },
  };
}

export function startProgress(opts: ProgressOptions): Progress {
  const stream = opts.stream ?? process.stderr;
  if (opts.quiet || !stream.isTTY) return plainProgress(stream);
  return barProgress({ ...opts, stream });
}
