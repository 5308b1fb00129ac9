import busboy from 'busboy';
import fp from 'fastify-plugin';
import { safeParse as parseContentType } from 'fast-content-type-parse';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { HttpProblem } from './problems.js';

/** Multipart form field that carries the upload. */
export const IMAGE_FIELD = 'image';

/** Media types accepted as a raw image body (multipart/form-data is the other way in). */
export const RAW_IMAGE_TYPES = ['image/*', 'application/octet-stream'] as const;

const MULTIPART = 'multipart/form-data';
const ACCEPTED = `${RAW_IMAGE_TYPES.join(', ')} or ${MULTIPART}`;

/** Parts a form may have (the image and a few text fields a browser form adds). */
const MAX_PARTS = 32;

/** The media type without parameters, lower-cased; '' when the header is missing or malformed. */
function mediaType(header: string | undefined): { type: string; parameters: Record<string, string> } {
  return header ? parseContentType(header) : { type: '', parameters: {} };
}

/** Whether a media type is one the image routes take (parameters such as `charset=binary` are legal and ignored). */
export function isAcceptedMediaType(type: string): boolean {
  return type === 'application/octet-stream' || type === MULTIPART || /^image\/[\w.+*-]+$/.test(type);
}

/**
 * Body handling of the image routes: the media type is checked from the headers (415 naming the accepted
 * types, before the body is read), then the body is collected as one Buffer capped at `bodyLimit` (413) for
 * every accepted type; multipart forms are parsed afterwards by busboy (readImageBody). Wrapped with
 * fastify-plugin: it configures the scope that registers it.
 */
const imageBodyPlugin: FastifyPluginAsync<{ bodyLimit: number }> = async (app, { bodyLimit }) => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_request, body, done) => done(null, body));
  app.addHook('onRequest', async (request) => {
    const header = request.headers['content-type'];
    // No type and no body: the handler answers 422 "empty body", the more useful message.
    if (header === undefined && !(Number(request.headers['content-length']) > 0) && request.headers['transfer-encoding'] === undefined) return;
    const { type, parameters } = mediaType(header);
    if (!isAcceptedMediaType(type)) {
      const got = header ? `Content-Type ${JSON.stringify(header)}` : 'no Content-Type';
      throw new HttpProblem('unsupported-media-type', `${got}: send ${ACCEPTED}`);
    }
    if (type === MULTIPART && !parameters.boundary) {
      throw new HttpProblem('bad-parameter', `Content-Type ${MULTIPART} needs a boundary parameter`);
    }
  });
};

export const imageBody = fp(imageBodyPlugin, { name: 'cityseg-image-body' });

/** The uploaded image bytes of a request: the raw body, or the multipart part `image`. */
export async function readImageBody(request: FastifyRequest): Promise<Buffer> {
  const body = request.body;
  if (body === undefined || body === null || (Buffer.isBuffer(body) && body.length === 0)) {
    throw new HttpProblem('empty-body', `the request body is empty: send the image bytes or a multipart part "${IMAGE_FIELD}"`);
  }
  if (!Buffer.isBuffer(body)) throw new HttpProblem('unsupported-media-type', `expected an image body (${ACCEPTED})`);
  if (mediaType(request.headers['content-type']).type !== MULTIPART) return body;
  return multipartImage(request.headers['content-type'] as string, body);
}

/**
 * The `image` part of a multipart/form-data body, as a file part or (curl -F 'image=<file') a field without a
 * filename, whose bytes busboy hands over as latin1 text and which round-trip exactly. A second `image` part,
 * other file parts, or a malformed body (no closing boundary, junk, broken part headers) → 400 naming it.
 */
function multipartImage(contentType: string, body: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: { 'content-type': contentType },
        defCharset: 'latin1',
        defParamCharset: 'utf8',
        limits: { parts: MAX_PARTS, fieldSize: body.length, fileSize: body.length },
      });
    } catch (error) {
      reject(new HttpProblem('bad-parameter', `multipart body: ${(error as Error).message}`));
      return;
    }
    const images: Buffer[] = [];
    const otherFiles: string[] = [];
    let failure: HttpProblem | undefined;
    const fail = (detail: string) => {
      failure ??= new HttpProblem('bad-parameter', `multipart body: ${detail}`);
    };

    parser.on('file', (name, stream) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      // busboy reports a cut-off body on the part's stream as well as on the parser.
      stream.on('error', () => undefined);
      stream.on('end', () => {
        if (name === IMAGE_FIELD) images.push(Buffer.concat(chunks));
        else otherFiles.push(name);
      });
    });
    parser.on('field', (name, value) => {
      if (name === IMAGE_FIELD) images.push(Buffer.from(value, 'latin1'));
    });
    parser.on('partsLimit', () => fail(`more than ${MAX_PARTS} parts`));
    parser.on('error', (error: Error) => fail(`${error.message.toLowerCase()} (is the closing boundary missing?)`));
    parser.on('close', () => {
      if (failure) return reject(failure);
      if (images.length > 1) return reject(new HttpProblem('bad-parameter', `multipart body has ${images.length} "${IMAGE_FIELD}" parts; send one`));
      if (images.length === 0) {
        const found = otherFiles.length > 0 ? ` (found file parts: ${otherFiles.join(', ')})` : '';
        return reject(new HttpProblem('bad-parameter', `multipart body has no part "${IMAGE_FIELD}"${found}`));
      }
      if (otherFiles.length > 0) {
        return reject(new HttpProblem('bad-parameter', `multipart body has file parts other than "${IMAGE_FIELD}": ${otherFiles.join(', ')}`));
      }
      if (images[0].length === 0) return reject(new HttpProblem('empty-body', `multipart part "${IMAGE_FIELD}" is empty`));
      resolve(images[0]);
    });
    parser.end(body);
  });
}
