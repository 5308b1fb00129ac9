import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRaw } from './server-helpers.js';
import { readyServer } from './server-process.js';
import { realFrame, SHARED_REAL_SKIP } from './shared-real.js';

/**
 * The compiled server (dist/) answering the Open Inference Protocol as Triton's HTTP client sends it: a binary
 * request (JSON header + length-prefixed BYTES, no Content-Type), `binary_data_output`, the segmentation running
 * in a worker thread (CITYSEG_WORKERS=1) that builds the response and moves it to the main thread.
 */

const REAL = realFrame('frankfurt_000000_000294_leftImg8bit.png');
const SEG = 'lraspp_mobilenet_v3_large';

describe('Open Inference Protocol on the compiled server', { skip: SHARED_REAL_SKIP }, () => {
  it('answers a binary-form infer in a worker thread with class_ids equal to /v1/segment labelIds, and errors as {"error"}', async () => {
    const { server, base } = await readyServer({ CITYSEG_WORKERS: '1' });
    try {
      const png = readFileSync(REAL);
      const header = Buffer.from(JSON.stringify({
        id: 'p1',
        inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], parameters: { binary_data_size: png.length + 4 } }],
        parameters: { binary_data_output: true },
      }));
      const length = Buffer.alloc(4);
      length.writeUInt32LE(png.length);
      const res = await fetch(`${base}/v2/models/${SEG}/infer`, {
        method: 'POST',
        body: new Uint8Array(Buffer.concat([header, length, png])),
        headers: { 'inference-header-content-length': String(header.length) },
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/octet-stream');
      const body = Buffer.from(await res.arrayBuffer());
      const headerLength = Number(res.headers.get('inference-header-content-length'));
      const head = JSON.parse(body.subarray(0, headerLength).toString());
      assert.deepEqual(head, {
        id: 'p1',
        model_name: SEG,
        model_version: '1',
        parameters: { trained: false },
        outputs: [{ name: 'class_ids', datatype: 'UINT8', shape: [128, 256], parameters: { binary_data_size: 256 * 128 } }],
      });
      assert.equal(res.headers.get('x-model-trained'), 'false');

      const rest = await fetch(`${base}/v1/segment?format=labelIds`, { method: 'POST', body: new Uint8Array(png), headers: { 'content-type': 'image/png' } });
      const labelIds = (await decodeRaw(Buffer.from(await rest.arrayBuffer()))).data;
      assert.ok(body.subarray(headerLength).equals(labelIds), 'class_ids are the labelIds mask, pixel for pixel');

      const bad = await fetch(`${base}/v2/models/${SEG}/infer`, { method: 'POST', body: '{"inputs": [}', headers: { 'content-type': 'application/json' } });
      assert.equal(bad.status, 400);
      assert.match((await bad.json()).error, /^the inference request is not valid JSON/);
    } finally {
      server.child.kill('SIGTERM');
      assert.equal(await server.exit, 0);
    }
  });
});
