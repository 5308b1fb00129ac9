import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { activityOf } from './request-gate.js';

/** Share of the connection cap at which idle connections start to be closed to make room. */
export const DRAIN_AT = 0.9;
/** A connection with no request in progress for this long is idle (a keep-alive between requests, or silent). */
export const IDLE_AFTER_MS = 1_000;

/**
 * Keeps room under the connection cap the way nginx reuses its idle keep-alive connections when it runs short: once
 * `DRAIN_AT` of `maxConnections` are open, every connection without a request in progress for `idleAfterMs` is
 * closed (HTTP lets a server close an idle connection at any time; the client reconnects). Without it, 1,100
 * keep-alive clients, or a thousand silent sockets reopened as the header timeout closed them, held every place,
 * and new connections (a kubelet's probe among them) were reset. Connections whose request is being received,
 * waits or runs are never closed; the requests are counted by the request gate (activityOf), which every request
 * of the server passes.
 */
export function drainIdleConnections(server: Server, maxConnections: number, idleAfterMs = IDLE_AFTER_MS): void {
  const threshold = Math.max(1, Math.floor(maxConnections * DRAIN_AT));
  const open = new Set<Socket>();
  let watch: NodeJS.Timeout | undefined;

  const drain = () => {
    const now = performance.now();
    for (const socket of open) {
      const { unanswered, idleSince } = activityOf(socket);
      if (unanswered === 0 && now - idleSince >= idleAfterMs) socket.destroy();
    }
  };
  // Connections opened together become idle together: while above the threshold, look again as they age.
  const check = () => {
    if (open.size < threshold) {
      clearInterval(watch);
      watch = undefined;
      return;
    }
    drain();
    watch ??= setInterval(check, Math.max(10, idleAfterMs / 4)).unref();
  };

  server.on('connection', (socket: Socket) => {
    // Its idle time counts from now until a request reaches the gate.
    activityOf(socket);
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    if (open.size >= threshold) check();
  });
  // At the cap Node drops a new connection before any 'connection' event: make room for the next one.
  server.on('drop', drain);
}
