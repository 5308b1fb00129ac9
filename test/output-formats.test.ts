/**
 * One table of outputs for both surfaces (segmentation/output-formats.ts): every format, asked of the HTTP API
 * (`POST /v1/segment?format=…`) and of the compiled CLI (`cityseg segment --format …`) for the same image and the
 * same (default, seeded) model, gives the same bytes; the JSON body differs only by its measured timings.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import request from 'supertest';
import { OUTPUT_FORMAT_NAMES, OUTPUT_FORMATS, type OverlayFormat } from '../segmentation/output-formats.js';
import { runCli, tempDir } from './cli-helpers.js';
import { appWithDefaultModels, encodeImage, testConfig } from './server-helpers.js';

function binary(res: request.Response, done: (err: Error | null, body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (chunk: Buffer) => chunks.push(chunk));
  res.on('end', () => done(null, Buffer.concat(chunks)));
}

/** The JSON body without what is measured per run. */
function withoutTimings(bytes: Buffer): unknown {
  const body = JSON.parse(bytes.toString()) as { timings: unknown };
  assert.equal(typeof body.timings, 'object');
  return { ...body, timings: null };
}

describe('output formats: HTTP and CLI give the same bytes', () => {
  let app: FastifyInstance;
  let dir: string;
  let cleanup: () => Promise<void>;
  let image: Buffer;
  const outDirs: Record<OverlayFormat, string> = { jpeg: '', png: '' };

  before(async () => {
    ({ dir, cleanup } = await tempDir('formats'));
    image = await encodeImage(83, 61, 4);
    await writeFile(path.join(dir, 'street.png'), image);
    // The CLI's default size (1024) and the server's are both above 83x61: the network sees the image as it is.
    app = await appWithDefaultModels(testConfig({ CITYSEG_INFERENCE_SIZE: '1024', CITYSEG_CLASSIFIER_ARCH: 'none' }));
    for (const overlayFormat of ['jpeg', 'png'] as const) {
      outDirs[overlayFormat] = path.join(dir, overlayFormat);
      const run = await runCli([
        'segment', '--quiet', '--rle', '--format', OUTPUT_FORMAT_NAMES.join(','), '--overlay-format', overlayFormat,
        '--alpha', '0.3', '--out', outDirs[overlayFormat], path.join(dir, 'street.png'),
      ]);
      assert.equal(run.code, 0, run.stderr);
    }
  });
  after(async () => {
    await app?.close();
    await cleanup?.();
  });

  for (const overlayFormat of ['jpeg', 'png'] as const) {
    for (const format of OUTPUT_FORMAT_NAMES) {
      if (overlayFormat === 'png' && format !== 'overlay') continue;
      it(`${format}${format === 'overlay' ? ` (${overlayFormat})` : ''}`, async () => {
        const res = await request(app.server)
          .post(`/v1/segment?format=${format}&overlayFormat=${overlayFormat}&alpha=0.3${format === 'json' ? '&rle=true' : ''}`)
          .set('content-type', 'image/png')
          .buffer(true)
          .parse(binary)
          .send(image);
        assert.equal(res.status, 200);
        const entry = OUTPUT_FORMATS[format];
        assert.equal(res.headers['content-type']?.split(';')[0], entry.contentType({ overlayFormat }));
        const file = await readFile(path.join(outDirs[overlayFormat], `street${entry.suffix({ overlayFormat })}`));
        const body = res.body as Buffer;
        if (format === 'json') assert.deepEqual(withoutTimings(body), withoutTimings(file));
        else assert.ok(body.equals(file), `${format}: ${body.length} bytes over HTTP, ${file.length} from the CLI`);
      });
    }
  }
});
