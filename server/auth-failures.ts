import fp from 'fastify-plugin';
import type { FastifyRequest } from 'fastify';
import { HttpProblem } from './problems.js';

/**
 * Failed authentications (a wrong API key or admin token presented) limited per client address, whatever the
 * request rate limit (CITYSEG_RATE_LIMIT_MAX, off by default) says: past MAX_FAILURES in WINDOW_MS every
 * authenticated route answers that address 429 with Retry-After until its window ends, so guessing a key or the
 * admin token takes years instead of an afternoon (3,700 guesses/s were possible). Each failure is one warn log
 * line with the address and the route, never what was presented. A request with no credentials at all is a plain
 * 401 and is not counted (a client that forgot its key is not guessing).
 */

/** Failures an address may have in one window before it is refused. */
export const MAX_FAILURES = 10;
/** The window, from an address's first failure. */
export const WINDOW_MS = 60_000;
/** Addresses remembered at once: past this, expired windows are dropped, then the oldest (a flood of addresses). */
const MAX_ADDRESSES = 10_000;

interface Window {
  failures: number;
  endsAt: number;
}

export class AuthFailureLimiter {
  private readonly windows = new Map<string, Window>();
  private readonly now: () => number;

  constructor(now: () => number = () => performance.now()) {
    this.now = now;
  }

  /** Seconds until `address` may authenticate again (rounded up), or 0 when it may now. */
  retryAfterSeconds(address: string): number {
    const window = this.windows.get(address);
    if (window === undefined) return 0;
    const left = window.endsAt - this.now();
    if (left <= 0) {
      this.windows.delete(address);
      return 0;
    }
    return window.failures >= MAX_FAILURES ? Math.ceil(left / 1000) : 0;
  }

  /** Counts one failure of `address`; returns its failures in the current window. */
  recordFailure(address: string): number {
    const now = this.now();
    let window = this.windows.get(address);
    if (window === undefined || window.endsAt <= now) {
      this.windows.delete(address);
      this.makeRoom(now);
      window = { failures: 0, endsAt: now + WINDOW_MS };
      this.windows.set(address, window);
    }
    window.failures += 1;
    return window.failures;
  }

  private makeRoom(now: number): void {
    if (this.windows.size < MAX_ADDRESSES) return;
    for (const [address, window] of this.windows) if (window.endsAt <= now) this.windows.delete(address);
    // Insertion order is the order the windows opened: the oldest go first.
    for (const address of this.windows.keys()) {
      if (this.windows.size < MAX_ADDRESSES) break;
      this.windows.delete(address);
    }
  }
}

export interface Credential {
  /** Which secret the route wants, for the log line (`api-key`, `admin-token`). */
  realm: string;
  /** Whether the request presents any credential (a missing one is not a guess). */
  presented: boolean;
  /** Whether the presented credential is valid. */
  valid: boolean;
  /** The 401 to answer when it is not. */
  refusal: () => HttpProblem;
}

/**
 * Authenticates a request against `limiter`: an address over its failures gets 429 before its credential is even
 * checked; a wrong credential is counted and logged, then refused with `credential.refusal()`.
 */
export function authenticate(limiter: AuthFailureLimiter, request: FastifyRequest, credential: Credential): void {
  const address = request.ip;
  const blocked = limiter.retryAfterSeconds(address);
  if (blocked > 0) {
    throw new HttpProblem('too-many-requests', `more than ${MAX_FAILURES} failed authentications from this address in ${WINDOW_MS / 1000} s; retry in ${blocked} s`, blocked);
  }
  if (credential.valid) return;
  if (credential.presented) {
    const failures = limiter.recordFailure(address);
    request.log.warn({ address, realm: credential.realm, route: request.routeOptions.url, failures }, `failed authentication (${credential.realm}) from ${address}`);
  }
  throw credential.refusal();
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Wrong API keys and admin tokens, counted per client address. */
    authFailures: AuthFailureLimiter;
  }
}

/** Decorates `authFailures`: one count per address for every credential the service checks. */
export const authFailureLimits = fp(
  async (app) => {
    app.decorate('authFailures', new AuthFailureLimiter());
  },
  { name: 'cityseg-auth-failures' },
);
