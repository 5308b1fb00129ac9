import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import fp from 'fastify-plugin';
import type { FastifyPluginAsync } from 'fastify';

type ReadableRequest = IncomingMessage & { _read: (size: number) => void };

/**
 * `Expect: 100-continue` (RFC 9110 §10.1.1): the interim 100 is sent when the application first reads the body,
 * not on arrival as Node does by default. The request goes through the whole Fastify path first (route, body limit,
 * per-client share, shutdown, content type, query), so a request it refuses gets its 413/415/429/503 alone, and the
 * client never sends the body it was refused. A response already given a status other than 200, or already
 * started, gets no 100: Node reads a refused body only to discard it.
 */
export function continueOnFirstRead(server: Server): void {
  server.on('checkContinue', (request: IncomingMessage, response: ServerResponse) => {
    const readable = request as ReadableRequest;
    const read = readable._read;
    readable._read = function (this: ReadableRequest, size: number) {
      readable._read = read;
      if (!response.headersSent && !response.writableEnded && response.statusCode === 200) response.writeContinue();
      read.call(this, size);
    };
    server.emit('request', request, response);
  });
}

/**
 * For a request that waits for 100 Continue: its query string is validated before its body is read, where Fastify
 * validates it only after parsing the body, so a bad parameter is refused (400, the same problem as on the normal
 * path) without asking for the body. Registered at the root with fastify-plugin, so it covers every route.
 */
const queryBeforeBodyPlugin: FastifyPluginAsync = async (app) => {
  app.addHook('preParsing', async (request) => {
    if (request.headers.expect?.toLowerCase() !== '100-continue') return;
    const validate = request.getValidationFunction('querystring');
    if (validate === undefined || validate(request.query)) return;
    const errors = validate.errors ?? [];
    const message = errors.map((error) => `querystring${error.instancePath} ${error.message ?? 'is not valid'}`).join(', ');
    throw Object.assign(new Error(message), { statusCode: 400, code: 'FST_ERR_VALIDATION', validation: errors, validationContext: 'querystring' });
  });
};

export const queryBeforeBody = fp(queryBeforeBodyPlugin, { name: 'cityseg-query-before-body' });
