import fp from 'fastify-plugin';
import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import { outsideFastifyAnswer } from './framework-errors.js';
import { HttpProblem } from './problems.js';

/**
 * Requests whose framing Node answers by itself, with an empty body or none, answered as problems instead:
 * - `Expect` other than `100-continue` → 417 (Node's 'checkExpectation' default is an empty 417 on a kept-alive
 *   connection); CONNECT → 405 (Node's default closes the socket without a word); both written outside Fastify.
 * - an HTTP/1.1 request without Host → 400 (RFC 9112 §3.2; the server is created with `requireHostHeader: false`
 *   so the answer is Fastify's, with its security headers) and a Transfer-Encoding other than exactly `chunked` →
 *   400 (RFC 9112 §6.1: cityseg decodes no transfer coding but chunked, and `identity` is obsolete): the
 *   `httpFraming` plugin, registered at the root.
 */

/** The expectation Node serves itself (it answers `100 Continue`). */
const CONTINUE = '100-continue';

function writeOutside(response: ServerResponse, problem: HttpProblem): void {
  const { headers, body } = outsideFastifyAnswer(problem);
  response.writeHead(problem.status, headers).end(body);
}

/** The answer to CONNECT: this server is no proxy. */
function refuseConnect(request: IncomingMessage, socket: Duplex): void {
  const problem = new HttpProblem('method-not-allowed', `${request.method} is not supported: this server is not a proxy`);
  const { headers, body } = outsideFastifyAnswer(problem);
  const head = Object.entries({ ...headers, allow: 'GET, HEAD, POST, OPTIONS' }).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  socket.on('error', () => undefined);
  socket.end(`HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status]}\r\n${head}\r\n${body}`);
}

/** Installs the 417 and CONNECT answers on Node's server. */
export function answerFramingOutsideFastify(server: Server): void {
  server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    writeOutside(response, new HttpProblem('expectation-failed', `the expectation "${request.headers.expect}" is not supported (only ${CONTINUE})`));
  });
  server.on('connect', refuseConnect);
}

const httpFramingPlugin: FastifyPluginAsync = async (app) => {
  app.addHook('onRequest', async (request, reply) => {
    const raw = request.raw;
    if (raw.httpVersion === '1.1' && raw.headers.host === undefined) {
      reply.header('connection', 'close');
      throw new HttpProblem('bad-parameter', 'an HTTP/1.1 request must carry a Host header (RFC 9112 section 3.2)');
    }
    const coding = raw.headers['transfer-encoding'];
    if (coding !== undefined && coding.trim().toLowerCase() !== 'chunked') {
      reply.header('connection', 'close');
      throw new HttpProblem('bad-parameter', `Transfer-Encoding "${coding}" is not supported: send the body with Content-Length or Transfer-Encoding: chunked alone`);
    }
  });
};

export const httpFraming = fp(httpFramingPlugin, { name: 'cityseg-http-framing' });
