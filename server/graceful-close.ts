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
 * Here, for this server only: `closeIdleConnections` closes a connection once it has had no request in progress
 * (request-gate's `activityOf`) and no byte read for `quietMs` since the close began, so a request that arrives
 * meanwhile is answered (503 `shutting-down` with `Connection: close`, server/framework-errors.ts); and `close`
 * shuts the listening socket only once the kernel's accept queue is empty, so every connection whose handshake
 * completed is accepted and its request answered. Connections whose requests are being received, wait or run are left to finish.
 * A client that sends its first byte exactly as its idle connection closes still races the close, as with any
 * HTTP/1.1 server.
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
      for (const socket of open) {
        const seen = lastRead.get(socket);
        if (seen === undefined || seen.bytes !== socket.bytesRead) {
          // A connection first seen now (open when the close began, or accepted since) has its whole quiet time ahead.
          lastRead.set(socket, { bytes: socket.bytesRead, at: now });
          continue;
        }
        const { unanswered, idleSince } = activityOf(socket);
        if (unanswered === 0 && now - Math.max(seen.at, idleSince) >= quietMs) socket.destroy();
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
