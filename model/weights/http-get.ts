/**
 * One GET of a weights file with Node's own http/https client, which reads what plain mirrors send: HTTP/1.0 and
 * bodies delimited by the connection's close (`python3 -m http.server`), chunked bodies, redirects. (undici 6's
 * fetch failed on these: nodejs/undici#5360, and UND_ERR_SOCKET after a complete close-delimited body.)
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { DownloadLimits } from './download-limits.js';

/** Redirects followed before giving up (fetch's and curl's default bound is about this). */
export const MAX_REDIRECTS = 5;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** A failure of the exchange itself; `code` is CONNECT_TIMEOUT, IDLE_TIMEOUT, TOO_MANY_REDIRECTS or Node's (ECONNREFUSED…). */
export class HttpGetError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'HttpGetError';
    this.code = code;
  }
}

/**
 * The final response (after redirects) to a GET of `url`, body not yet read; the caller reads or destroys it.
 * Bounded by `limits.connectTimeoutMs` (each connection) and `limits.idleTimeoutMs` (headers, and every pause in
 * the body: the response then errors with IDLE_TIMEOUT); `signal` (the overall deadline) aborts at any point.
 * `headers` go to the first host only (an Authorization header is not sent on to another origin, as fetch does).
 */
export async function httpGet(url: URL, headers: Record<string, string>, limits: DownloadLimits, signal: AbortSignal): Promise<IncomingMessage> {
  let current = url;
  for (let redirects = 0; ; redirects++) {
    const sameOrigin = current.origin === url.origin;
    const response = await getOnce(current, sameOrigin ? headers : {}, limits, signal);
    const location = response.headers.location;
    if (!REDIRECTS.has(response.statusCode ?? 0) || location === undefined) return response;
    response.destroy();
    if (redirects >= MAX_REDIRECTS) throw new HttpGetError('TOO_MANY_REDIRECTS', `more than ${MAX_REDIRECTS} redirects`);
    current = new URL(location, current);
    if (current.protocol !== 'http:' && current.protocol !== 'https:') {
      throw new HttpGetError('BAD_REDIRECT', `redirect to an unsupported URL scheme ${current.protocol}`);
    }
  }
}

function getOnce(url: URL, headers: Record<string, string>, limits: DownloadLimits, signal: AbortSignal): Promise<IncomingMessage> {
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    let response: IncomingMessage | undefined;
    // No keep-alive agent: the connection closes with the download, so nothing keeps the process alive after it.
    const request = client.get(url, { headers, signal, agent: false });
    const connectTimer = setTimeout(
      () => request.destroy(new HttpGetError('CONNECT_TIMEOUT', `could not connect within ${limits.connectTimeoutMs} ms`)),
      limits.connectTimeoutMs,
    );
    request.once('socket', (socket) => {
      if (!socket.connecting) clearTimeout(connectTimer);
      else socket.once('connect', () => clearTimeout(connectTimer));
    });
    // The socket's inactivity, before and after the headers: the body's reader sees the error.
    request.setTimeout(limits.idleTimeoutMs, () =>
      (response ?? request).destroy(new HttpGetError('IDLE_TIMEOUT', `no data for ${limits.idleTimeoutMs} ms (idle timeout)`)),
    );
    request.once('error', (error) => {
      clearTimeout(connectTimer);
      reject(error);
    });
    request.once('response', (got) => {
      clearTimeout(connectTimer);
      response = got;
      resolve(got);
    });
    request.once('close', () => clearTimeout(connectTimer));
  });
}
