import fp from 'fastify-plugin';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { hasBody } from './body-limits.js';
import { HttpProblem } from './problems.js';
import type { TurnPacer } from './turn-pacer.js';

/** Content codings a request body may carry (RFC 9110 §8.4.1), each with its decoder; `x-gzip` is gzip's alias. */
const DECODERS: Record<string, () => Transform> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

/** More codings than anyone stacks on purpose: a longer list is refused rather than decoded. */
const MAX_CODINGS = 2;

/** The codings of a `Content-Encoding` header in the order they were applied, `identity` dropped. */
export function contentCodings(header: string): string[] {
  return header
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '' && coding !== 'identity');
}

/** The stream Fastify's body reader consumes; `receivedEncodedLength` is what it checks against Content-Length. */
type DecodedBody = Transform & { receivedEncodedLength: number };

/** Counts the bytes as they arrive from the socket, before any decoding. */
function encodedMeter(output: DecodedBody): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      output.receivedEncodedLength += chunk.length;
      callback(null, chunk);
    },
  });
}

/**
 * Passes decoded bytes through until `limit` is exceeded, then fails with 413 before passing the excess on. Each
 * decoded chunk waits for its turn from `pacer` (shared with every body's intake): a body of zeros decodes some
 * 1,000 bytes per byte received, and 36 gzip bombs decoding at once held /healthz p99 at 127 ms.
 */
function decodedLimiter(limit: number, codings: string[], pacer: TurnPacer | undefined): DecodedBody {
  let decoded = 0;
  const limiter = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      decoded += chunk.length;
      if (decoded > limit) {
        callback(new HttpProblem('payload-too-large', `the ${codings.join(', ')}-encoded body decodes to more than ${limit} bytes (the body limit)`));
        return;
      }
      if (pacer) pacer.defer(() => callback(null, chunk));
      else callback(null, chunk);
    },
  });
  return Object.assign(limiter, { receivedEncodedLength: 0 });
}

/**
 * The request body decoded: socket → meter → decoders (last applied, first undone) → limiter. A decoder or limiter
 * failure stops decoding at once, discards the rest of the upload unread, closes the connection after the answer,
 * and fails the returned stream with a problem (400 for bytes that are not the declared coding, 413 past the limit).
 */
function decodeBody(payload: Readable, reply: FastifyReply, codings: string[], limit: number, pacer: TurnPacer | undefined): DecodedBody {
  const output = decodedLimiter(limit, codings, pacer);
  const meter = encodedMeter(output);
  const decoders = [...codings].reverse().map((coding) => ({ coding, stream: DECODERS[coding]() }));
  const stages = [meter, ...decoders.map(({ stream }) => stream)];
  let failed = false;
  const fail = (error: unknown, coding?: string) => {
    if (failed) return;
    failed = true;
    payload.unpipe(meter);
    payload.resume();
    for (const stage of stages) stage.destroy();
    reply.header('connection', 'close');
    const problem =
      error instanceof HttpProblem
        ? error
        : new HttpProblem('bad-parameter', `the body is not valid ${coding ?? codings.join(', ')} data (Content-Encoding): ${(error as Error).message}`);
    if (!output.destroyed && !output.readableEnded) output.destroy(problem);
  };
  // A client that goes away mid-body: stop decoding and release the streams (Fastify answers nobody).
  payload.once('close', () => {
    if (!payload.readableEnded) fail(new HttpProblem('bad-parameter', 'the client closed the connection before the body ended'));
  });
  meter.on('error', (error) => fail(error));
  for (const { coding, stream } of decoders) stream.on('error', (error) => fail(error, coding));
  output.on('error', (error) => fail(error));
  stages.reduce<Readable>((from, stage) => from.pipe(stage), payload).pipe(output);
  return output;
}

/**
 * Request bodies with `Content-Encoding`: gzip, deflate and br are decoded in a preParsing hook, so every body
 * parser and Fastify's body limit see the decoded bytes; the decoded size is bounded by the route's body limit
 * whether or not Content-Length is sent (a decompression bomb is a 413 after at most limit bytes of output). Any
 * other coding is a 415 naming it. Multipart forms are decoded the same way (busboy parses the decoded body).
 */
const contentEncodingPlugin: FastifyPluginAsync = async (app) => {
  app.addHook('preParsing', async (request, reply, payload) => {
    const header = request.headers['content-encoding'];
    if (header === undefined || !hasBody(request)) return payload;
    const codings = contentCodings(header);
    if (codings.length === 0) return payload;
    const unknown = codings.find((coding) => !Object.hasOwn(DECODERS, coding));
    if (unknown !== undefined) {
      throw new HttpProblem(
        'unsupported-media-type',
        `Content-Encoding '${unknown.slice(0, 64)}' is not supported: send the body with gzip, deflate, br or no encoding`,
      );
    }
    if (codings.length > MAX_CODINGS) {
      throw new HttpProblem('unsupported-media-type', `Content-Encoding lists ${codings.length} codings; at most ${MAX_CODINGS} are decoded`);
    }
    return decodeBody(payload, reply, codings, request.routeOptions.bodyLimit ?? app.initialConfig.bodyLimit ?? Infinity, request.bodyPacer);
  });
};

export const contentEncoding = fp(contentEncodingPlugin, { name: 'cityseg-content-encoding', dependencies: ['cityseg-body-limits'] });
