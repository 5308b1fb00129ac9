/**
 * The server process's signals, from its first moment to its exit. SIGTERM/SIGINT ask for one graceful stop (a
 * second one is logged and ignored, so a double Ctrl-C or a kubelet's repeat does not cut the answers in flight);
 * a stop asked for while the models still load waits for the load to end, then closes. SIGHUP reloads the models
 * once the server is serving and is ignored before (its default action would kill the process). An uncaught error
 * stops the server like a signal, with exit 1.
 *
 * Exit status: 0 when the server closed within the shutdown timeout with every request finished, 1 when the budget
 * cut work (requests answered 503 by answerTheRest), the timeout ran out, or after an uncaught error. The forced exit waits until no engine is inside a pass (the running jobs were answered 503
 * already): ending the process while a worker thread is inside an ONNX Runtime run aborts it in native code
 * (exit 134, "terminate called after throwing an instance of 'Napi::Error'"), because the worker's teardown makes
 * the run's completion call into a stopped JavaScript environment.
 *
 * Install it before anything slow is imported (server/main.ts does so first): until then a signal has its default
 * action.
 */

/** What the running server gives the signal handlers. */
export interface StoppableServer {
  /** Finishes in-flight work and closes; resolves when closed. */
  close: () => Promise<void>;
  /**
   * Answers 503 every accepted request that is still receiving its body, waiting or running (the shutdown budget is
   * nearly spent); a connection whose body was cut lingers at most `lingerMs` for its client to read the answer.
   * Returns how many requests it answered.
   */
  answerTheRest: (lingerMs: number) => number;
  /** Resolves once no engine is inside a pass, a load or a warm-up: the process may then exit without aborting. */
  quiet: () => Promise<void>;
  /** Reloads the models file (SIGHUP). */
  reload: () => void;
  log: { info: (facts: object, message: string) => void; warn: (facts: object, message: string) => void; error: (facts: object, message: string) => void };
}

export interface ShutdownOptions {
  /** The whole shutdown's budget (CITYSEG_SHUTDOWN_TIMEOUT_MS). */
  timeoutMs: number;
  /** The longest the forced exit waits for a pass to end (a request's own deadline: no pass should outlive it). */
  passLimitMs: number;
}

/** When a shutdown stops waiting for in-flight work: the budget less time to send the 503s (≥ 80% of it). */
export function drainDeadlineMs(shutdownTimeoutMs: number): number {
  return Math.max(shutdownTimeoutMs * 0.8, shutdownTimeoutMs - 1000);
}

type StopCause = { signal: NodeJS.Signals } | { err: unknown };

const STOP_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

/** One line on stderr while no logger exists yet (before the server is built). */
function early(message: string): void {
  process.stderr.write(`cityseg-server: ${message}\n`);
}

export class ProcessSignals {
  private server?: StoppableServer;
  private options?: ShutdownOptions;
  private cause?: StopCause;
  private stopping = false;
  private startEnded = false;
  private installed = false;
  private readonly exit: (code: number) => void;

  constructor(exit: (code: number) => void = (code) => process.exit(code)) {
    this.exit = exit;
  }

  /** Installs the handlers (once; later calls do nothing). */
  install(): this {
    if (this.installed) return this;
    this.installed = true;
    for (const signal of STOP_SIGNALS) process.on(signal, this.onStopSignal);
    process.on('SIGHUP', this.onHangUp);
    process.on('uncaughtException', this.onError);
    process.on('unhandledRejection', this.onError);
    return this;
  }

  /** Removes the handlers (a start that failed: its caller chooses the exit status). */
  uninstall(): void {
    for (const signal of STOP_SIGNALS) process.off(signal, this.onStopSignal);
    process.off('SIGHUP', this.onHangUp);
    process.off('uncaughtException', this.onError);
    process.off('unhandledRejection', this.onError);
    this.installed = false;
  }

  /** The server is built: a stop asked for from now on closes it once `started()` was called. */
  attach(server: StoppableServer, options: ShutdownOptions): void {
    this.server = server;
    this.options = options;
  }

  private readonly onStopSignal = (signal: NodeJS.Signals) => this.request({ signal });

  private readonly onError = (err: unknown) => {
    if (this.server) this.server.log.error({ err }, 'fatal error, closing the server');
    else early(`fatal error: ${err instanceof Error ? err.stack : String(err)}`);
    if (this.stopping || this.server === undefined) {
      // Nothing to drain (or already draining): a second fatal error ends the process at once.
      this.exit(1);
      return;
    }
    this.request({ err });
  };

  private readonly onHangUp = () => {
    if (this.server && !this.stopping && this.startEnded) this.server.reload();
    else if (this.server) this.server.log.warn({ signal: 'SIGHUP' }, 'SIGHUP ignored: the server is not serving yet, or is shutting down');
    else early('SIGHUP ignored: the server is still starting');
  };

  /** The start has ended (ready or not): SIGHUP reloads from now on, and a stop asked for meanwhile runs now. */
  started(): void {
    this.startEnded = true;
    if (this.cause !== undefined && !this.stopping) void this.stop(this.cause);
  }

  private request(cause: StopCause): void {
    if (this.cause !== undefined) {
      const signal = 'signal' in cause ? cause.signal : 'error';
      if (this.server) this.server.log.warn({ signal }, 'already shutting down: the in-flight requests are still being answered');
      else early(`${signal} ignored: already shutting down`);
      return;
    }
    this.cause = cause;
    if (this.server && this.startEnded) void this.stop(cause);
    else if (this.server) this.server.log.info({ signal: 'signal' in cause ? cause.signal : 'error' }, 'shutdown asked for while starting: closing once the models have loaded');
  }

  private async stop(cause: StopCause): Promise<void> {
    const server = this.server!;
    const { timeoutMs, passLimitMs } = this.options!;
    this.stopping = true;
    if ('signal' in cause) server.log.info({ signal: cause.signal }, 'shutting down: finishing in-flight requests');
    // What cannot finish in the budget is answered 503 first, so no accepted request is left without an answer; a
    // connection whose body was cut lingers half the time left, so it has closed before the timeout.
    let cut = 0;
    const drainAt = drainDeadlineMs(timeoutMs);
    const drain = setTimeout(() => (cut += server.answerTheRest((timeoutMs - drainAt) / 2)), drainAt);
    let timedOut = false;
    const timeout = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        timedOut = true;
        resolve();
      }, timeoutMs);
      timer.unref();
    });
    let failed = false;
    try {
      await Promise.race([server.close(), timeout]);
    } catch (err) {
      failed = true;
      server.log.error({ err }, 'closing the server failed');
    }
    clearTimeout(drain);
    if (timedOut) {
      cut += server.answerTheRest(0);
      server.log.warn({ timeoutMs }, 'shutdown timeout ran out: exiting once the engines are out of their passes');
      const passLimit = new Promise<void>((resolve) => setTimeout(resolve, passLimitMs).unref());
      await Promise.race([server.quiet(), passLimit]);
    } else if (!failed) server.log.info({}, 'server closed');
    this.exit(timedOut || failed || cut > 0 || 'err' in cause ? 1 : 0);
  }
}

/** The process's one set of handlers (server/main.ts installs it first; startServer uses it). */
export const processSignals = new ProcessSignals();
