import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { Writable } from 'node:stream';
import type { TurnPacer } from './turn-pacer.js';

/**
 * Lingering close (nginx's `lingering_close`, Apache's `ap_lingering_close`, capnproto's canceled-upload grace): an
 * answer sent before the request body was read to the end closes the connection, but closing a socket while the
 * client is still sending makes the kernel reset the connection, and a client that has not yet read its answer
 * sees ECONNRESET or EPIPE instead of its 413 or 503. So after the answer the write side is half-closed (FIN), the
 * rest of the body is read and discarded, and the socket is destroyed when the body or the client's side ends, when
 * no byte arrived for `LINGER_IDLE_MS`, after `LINGER_MS` in all, or past `maxBytes` discarded, whichever comes
 * first. Nothing read is kept, chunks are read as the body pacer gives them turns (see discardSlowly), and
 * the socket counts against the connection cap until it is destroyed.
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
 * response finishes; that call is replaced, for this socket only, by the lingering close. `lingerMs` bounds the whole
 * linger (a shutdown passes what is left of its budget). Idempotent.
 */
export function lingerAfterAnswer(request: IncomingMessage, maxBytes: number, pacer: TurnPacer, lingerMs = LINGER_MS): void {
  const socket = request.socket as LingeringSocket;
  if (socket.destroyed || Object.hasOwn(socket, 'destroySoon')) return;
  discardSlowly(request, pacer);
  socket.destroySoon = () => lingeringClose(socket, request, maxBytes, lingerMs);
}

/**
 * Reads the rest of `request`'s body and drops it, a chunk at a time as `pacer` gives it turns (shared with the
 * bodies being received, server/body-limits.ts). It must start before the answer has been written: a body nobody
 * consumes is "dumped" by Node's HTTP server when the response finishes, and then its native parser reads the socket
 * with no backpressure, up to 32 reads of 64 KiB per socket per poll; a hundred refused uploads held the loop (and
 * /healthz) for 80-110 ms that way. A consumer that acknowledges each chunk on a later turn keeps the request's
 * backpressure, which stops the socket's reads in between.
 */
function discardSlowly(request: IncomingMessage, pacer: TurnPacer): void {
  // The body guard, if any, is done with (the answer is out): the discarding sink alone sets the pace.
  request.unpipe();
  request.removeAllListeners('data');
  request.pipe(
    new Writable({
      highWaterMark: 0,
      write: (_chunk, _encoding, callback) => pacer.defer(callback),
    }),
  );
}

function lingeringClose(socket: Socket, request: IncomingMessage, maxBytes: number, lingerMs: number): void {
  if (socket.destroyed) return;
  // The answer is queued before the FIN: the client reads it, then the end of the stream.
  if (socket.writable) socket.end();
  const started = performance.now();
  const startBytes = socket.bytesRead;
  let lastBytes = startBytes;
  let lastArrival = started;
  // The socket's byte count covers what the parser has read, headers of the body's chunks included.
  const check = setInterval(() => {
    const now = performance.now();
    if (socket.bytesRead !== lastBytes) {
      lastBytes = socket.bytesRead;
      lastArrival = now;
    }
    if (lastBytes - startBytes > maxBytes || now - lastArrival >= LINGER_IDLE_MS || now - started >= lingerMs) close();
  }, LINGER_CHECK_MS);
  const close = () => {
    clearInterval(check);
    socket.destroy();
  };
  socket.once('close', close);
  // The client ended its side, or its whole body has arrived: nothing unread is left to provoke a reset.
  socket.once('end', close);
  request.once('end', close);
}
