import fp from 'fastify-plugin';
import multipart from '@fastify/multipart';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { HttpProblem } from './problems.js';

/** Multipart form field that carries the upload. */
export const IMAGE_FIELD = 'image';

/** Media types accepted as a raw image body (multipart/form-data is the other way in). */
export const RAW_IMAGE_TYPES = ['application/octet-stream', 'image/*'] as const;

/**
 * Body parsing for the image routes: raw `image/*` and `application/octet-stream` bodies as
 * Buffers, and multipart forms (field `image`), both capped at `bodyLimit` bytes. Every other
 * parser (JSON, text) is removed from this scope, so those bodies get 415 from Fastify itself.
 * Wrapped with fastify-plugin: it configures the scope that registers it, not a child.
 */
const imageBodyPlugin: FastifyPluginAsync<{ bodyLimit: number }> = async (app, { bodyLimit }) => {
  app.removeAllContentTypeParsers();
  for (const type of ['application/octet-stream', /^image\/[\w.+-]+$/]) {
    app.addContentTypeParser(type, { parseAs: 'buffer', bodyLimit }, (_request, body, done) => done(null, body));
  }
  await app.register(multipart, {
    throwFileSizeLimit: true,
    limits: { fileSize: bodyLimit, files: 1, fields: 16, parts: 32 },
  });
};

export const imageBody = fp(imageBodyPlugin, { name: 'cityseg-image-body' });

/** The uploaded image bytes of a request: the raw body, or the multipart field `image`. */
export async function readImageBody(request: FastifyRequest): Promise<Buffer> {
  if (request.isMultipart()) return readMultipartImage(request);
  const body = request.body;
  if (body === undefined || body === null || (Buffer.isBuffer(body) && body.length === 0)) {
    throw new HttpProblem('empty-body', 'the request body is empty: send the image bytes or a multipart field "image"');
  }
  if (!Buffer.isBuffer(body)) {
    throw new HttpProblem('unsupported-media-type', `expected an image body (${RAW_IMAGE_TYPES.join(', ')} or multipart/form-data)`);
  }
  return body;
}

async function readMultipartImage(request: FastifyRequest): Promise<Buffer> {
  let image: Buffer | undefined;
  // Every part is consumed (unused ones drained) so the request stream always completes.
  for await (const part of request.parts()) {
    if (part.type !== 'file') continue;
    if (part.fieldname === IMAGE_FIELD && image === undefined) image = await part.toBuffer();
    else part.file.resume();
  }
  if (image === undefined) {
    throw new HttpProblem('bad-parameter', `multipart body has no file field "${IMAGE_FIELD}"`);
  }
  if (image.length === 0) throw new HttpProblem('empty-body', `multipart field "${IMAGE_FIELD}" is empty`);
  return image;
}
