import type { FastifyReply } from 'fastify';

/**
 * Aborts when the client goes away before its response was fully written: the response closes
 * without having finished. (Request 'close' is no signal: it also fires once the body is read.)
 */
export function clientGoneSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}
