/**
 * A video upload streamed to disk: the raw body (video/*, image/gif, application/octet-stream) or the file part
 * `video` of a multipart/form-data body, counted against the jobs' own size limit as it arrives (413 the moment it
 * passes), never held in memory.
 */
import { createWriteStream } from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import { safeParse as parseContentType } from 'fast-content-type-parse';
import { HttpProblem } from '../problems.js';

/** Multipart form field that carries the video. */
export const VIDEO_FIELD = 'video';

const MULTIPART = 'multipart/form-data';
/** Parts a form may have (the video and a few fields); more is a 400. */
const MAX_PARTS = 32;
export const ACCEPTED_VIDEO_TYPES = 'video/*, image/gif, application/octet-stream or multipart/form-data';

/** The media type of a Content-Type header, lower-cased without parameters ('' when missing or malformed). */
export function uploadMediaType(header: string | undefined): { type: string; boundary?: string } {
  if (!header) return { type: '' };
  const { type, parameters } = parseContentType(header);
  return { type, boundary: parameters.boundary };
}

/** 415 before the body is read when the type cannot be a video upload. */
export function checkUploadType(header: string | undefined): void {
  const { type, boundary } = uploadMediaType(header);
  const accepted = type === 'application/octet-stream' || type === 'image/gif' || type === MULTIPART || /^video\/[\w.+-]+$/.test(type);
  if (!accepted) throw new HttpProblem('unsupported-media-type', `${header ? `Content-Type ${JSON.stringify(header)}` : 'no Content-Type'}: send ${ACCEPTED_VIDEO_TYPES}`);
  if (type === MULTIPART && !boundary) throw new HttpProblem('bad-parameter', `Content-Type ${MULTIPART} needs a boundary parameter`);
}

function tooLarge(limit: number): HttpProblem {
  return new HttpProblem('payload-too-large', `the video upload is over the limit of ${limit} bytes (CITYSEG_JOB_UPLOAD_LIMIT)`);
}

/** Counts bytes through and fails past `limit`. */
function byteLimit(limit: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      callback(seen > limit ? tooLarge(limit) : null, chunk);
    },
  });
}

/**
 * Writes the upload in `body` to `file`; resolves with its size and the file name the client gave (multipart),
 * else `upload`. Throws HttpProblem: 413 past `limit`, 422 when empty, 400 for a malformed form or one whose file
 * parts are not exactly one `video` (text fields are ignored).
 */
export async function receiveUpload(body: Readable, contentType: string | undefined, file: string, limit: number): Promise<{ bytes: number; name: string }> {
  if (uploadMediaType(contentType).type !== MULTIPART) {
    let bytes = 0;
    const counter = byteLimit(limit).on('data', (chunk: Buffer) => (bytes += chunk.length));
    await pipeline(body, counter, createWriteStream(file));
    if (bytes === 0) throw new HttpProblem('empty-body', 'the request body is empty: send the video bytes or a multipart part "video"');
    return { bytes, name: 'upload' };
  }
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: { 'content-type': contentType as string }, limits: { fileSize: limit, parts: MAX_PARTS } });
    } catch (error) {
      reject(new HttpProblem('bad-parameter', `multipart body: ${(error as Error).message}`));
      return;
    }
    let failure: HttpProblem | undefined;
    let written: Promise<void> | undefined;
    let bytes = 0;
    let name = 'upload';
    let videos = 0;
    const others: string[] = [];
    parser.on('file', (field, stream, info) => {
      if (field === VIDEO_FIELD) videos += 1;
      else others.push(field);
      if (field !== VIDEO_FIELD || written) {
        stream.resume();
        return;
      }
      name = info.filename || name;
      stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
      stream.on('limit', () => (failure ??= tooLarge(limit)));
      written = pipeline(stream, createWriteStream(file)).catch((error: unknown) => {
        failure ??= error instanceof HttpProblem ? error : new HttpProblem('bad-parameter', `multipart body: ${(error as Error).message}`);
      });
    });
    parser.on('partsLimit', () => (failure ??= new HttpProblem('bad-parameter', `multipart body has more than ${MAX_PARTS} parts`)));
    parser.on('error', (error: Error) => (failure ??= new HttpProblem('bad-parameter', `multipart body: ${error.message.toLowerCase()}`)));
    parser.on('close', () => {
      void (written ?? Promise.resolve()).then(() => {
        if (failure) return reject(failure);
        if (!written) return reject(new HttpProblem('bad-parameter', `multipart body has no file part "${VIDEO_FIELD}"${others.length > 0 ? ` (found: ${others.join(', ')})` : ''}`));
        // As /v1/segment answers: which of several files is the video would be a guess.
        if (videos > 1) return reject(new HttpProblem('bad-parameter', `multipart body has ${videos} "${VIDEO_FIELD}" parts; send one`));
        if (others.length > 0) return reject(new HttpProblem('bad-parameter', `multipart body has file parts other than "${VIDEO_FIELD}": ${others.join(', ')}`));
        if (bytes === 0) return reject(new HttpProblem('empty-body', `multipart part "${VIDEO_FIELD}" is empty`));
        resolve({ bytes, name });
      });
    });
    body.on('error', (error: Error) => {
      failure ??= error instanceof HttpProblem ? error : new HttpProblem('bad-parameter', error.message);
      parser.destroy();
      reject(failure);
    });
    body.pipe(parser);
  });
}
