import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Lingering close (nginx's `lingering_close`, Apache's `ap_lingering_close`, capnproto's canceled-upload grace): an
 * answer sent before the request body was read to the end closes the connection, but closing a socket while the
 * client is still sending makes the kernel reset the connection, and a client that has not yet read its answer
 * sees ECONNRESET or EPIPE instead of its 413 or 503. So after the answer the write side is half-closed (FIN), the
 * rest of the body is read and discarded, and the socket is destroyed when the body or the client's side ends, when
 * no byte arrived for `LINGER_IDLE_MS`, after `LINGER_MS` in all, or past `maxBytes` discarded, whichever comes
 * first. Nothing read is kept (Node's parser drops each read's bytes), and the socket counts against the connection cap until
 * it is destroyed.
 */

/** Longest pause in a refused client's sending before it is cut (Apache's SECONDS_TO_LINGER). */
export const LINGER_IDLE_MS = 2_000;
/** Longest time a refused client may keep sending after its answer. */
export const LINGER_MS = 5_000;
/** How often a lingering socket's progress is checked. */
const LINGER_CHECK_MS = 250;

type LingeringSocket = Socket & { destroySoon?: () => void };

/**
 * Arranges a lingering close of `request`'s connection for when its answer (sent with `Connection: close`) has been
 * written, discarding at most `maxBytes` more body bytes (the body limit: a refused client may not make the server
 * read more than an accepted one). Node's HTTP server ends such a connection with `socket.destroySoon()` once the
 * response finishes; that call is replaced, for this socket only, by the lingering close. Idempotent.
 */
export function lingerAfterAnswer(request: IncomingMessage, maxBytes: number): void {
  const socket = request.socket as LingeringSocket;
  if (socket.destroyed || Object.hasOwn(socket, 'destroySoon')) return;
  socket.destroySoon = () => lingeringClose(socket, request, maxBytes);
}

function lingeringClose(socket: Socket, request: IncomingMessage, maxBytes: number): void {
  if (socket.destroyed) return;
  // The answer is queued before the FIN: the client reads it, then the end of the stream.
  if (socket.writable) socket.end();
  const started = performance.now();
  const startBytes = socket.bytesRead;
  let lastBytes = startBytes;
  let lastArrival = started;
  // Node's HTTP parser keeps reading the socket and drops the body of an answered request; its byte count is the
  // socket's (the request stream sees none of it once dumped).
  const check = setInterval(() => {
    const now = performance.now();
    // A body pipe torn down after the answer pauses the request (and with it the socket): keep it flowing.
    if (request.isPaused()) request.resume();
    if (socket.bytesRead !== lastBytes) {
      lastBytes = socket.bytesRead;
      lastArrival = now;
    }
    if (lastBytes - startBytes > maxBytes || now - lastArrival >= LINGER_IDLE_MS || now - started >= LINGER_MS) close();
  }, LINGER_CHECK_MS);
  const close = () => {
    clearInterval(check);
    socket.destroy();
  };
  socket.once('close', close);
  // The client ended its side, or its whole body has arrived: nothing unread is left to provoke a reset.
  socket.once('end', close);
  request.once('end', close);
  request.resume();
  setImmediate(() => request.resume());
}
