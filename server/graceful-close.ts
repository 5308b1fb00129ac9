import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { IDLE_AFTER_MS } from './connection-pressure.js';
import { activityOf } from './request-gate.js';

/** How often a closing server looks for connections that have stayed idle. */
const CHECK_MS = 100;

/**
 * Closes `server` without resetting a request a client has already sent. Node's `server.close()` (and Fastify's
 * `forceCloseConnections: 'idle'`, which calls the same `closeIdleConnections`) destroys at once every connection
 * whose parser is between requests, and closes the listening socket in the same turn. A connection in the kernel's
 * accept queue, one accepted but not read yet, or a kept-alive one whose next request is still in the socket buffer
 * is then reset with the request unread: with the server's loop busy (60 uploads in flight, or a stopped process
 * resumed by the signal) 19 of 30 clients saw ECONNRESET instead of an answer.
 *
 * Here, for this server only: `close` shuts the listening socket once the kernel's accept queue is empty, so every
 * connection whose handshake completed is accepted and its request answered; `closeIdleConnections` leaves the
 * connections without a request in progress (request-gate's `activityOf`) open while any request on the server is
 * still being answered, then closes each after `quietMs` without a byte read. A request that arrives meanwhile, on a
 * kept-alive connection during a long drain too, is answered 503 `shutting-down` with `Connection: close`
 * (server/framework-errors.ts). Idle connections still close at the keep-alive timeout, and the shutdown timeout
 * bounds the whole. A client that sends its first byte exactly as its idle connection closes still races the close,
 * as with any HTTP/1.1 server.
 */
export function closeGracefully(server: Server, quietMs = IDLE_AFTER_MS): void {
  const open = new Set<Socket>();
  let accepted = 0;
  server.on('connection', (socket: Socket) => {
    accepted += 1;
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });

  let watch: NodeJS.Timeout | undefined;
  const closeIdle = () => {
    if (watch !== undefined) return;
    const lastRead = new Map<Socket, { bytes: number; at: number }>();
    const check = () => {
      const now = performance.now();
      // While any request is still being answered, idle connections stay: a kept-alive client may send another.
      let draining = false;
      for (const socket of open) if (activityOf(socket).unanswered > 0) draining = true;
      for (const socket of open) {
        const seen = lastRead.get(socket);
        if (seen === undefined || seen.bytes !== socket.bytesRead) {
          // A connection first seen now (open when the close began, or accepted since) has its whole quiet time ahead.
          lastRead.set(socket, { bytes: socket.bytesRead, at: now });
          continue;
        }
        const { unanswered, idleSince } = activityOf(socket);
        if (!draining && unanswered === 0 && now - Math.max(seen.at, idleSince) >= quietMs) socket.destroy();
      }
      for (const socket of lastRead.keys()) if (!open.has(socket)) lastRead.delete(socket);
    };
    check();
    watch = setInterval(check, CHECK_MS).unref();
    server.once('close', () => clearInterval(watch));
  };
  server.closeIdleConnections = closeIdle;

  const closeListener = server.close.bind(server);
  server.close = ((callback?: (error?: Error) => void) => {
    closeIdle();
    // libuv accepts one queued connection per poll phase: the listener closes after a poll phase that accepted
    // none (the kernel's queue is empty), or after `quietMs` of a stream of new connections.
    const deadline = performance.now() + quietMs;
    const afterOnePoll = () =>
      setImmediate(() => {
        const before = accepted;
        // An immediate queued from an immediate runs in the next turn, after its poll phase.
        setImmediate(() => (accepted === before || performance.now() >= deadline ? closeListener(callback) : afterOnePoll()));
      });
    afterOnePoll();
    return server;
  }) as Server['close'];
}
