import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import sharp from 'sharp';
import { IMAGE_INPUT, MAX_JSON_ELEMENTS, MAX_JSON_HEADER_BYTES, PIXELS_INPUT } from '../server/oip/request.js';
import { appWithDefaultModels, decodeRaw, testConfig } from './server-helpers.js';
import { realFrame, SHARED_REAL_SKIP } from './shared-real.js';

/**
 * The Open Inference Protocol routes (kserve/open-inference-protocol inference_rest.md; Triton's
 * extension_binary_data.md): request/response pairs in the specification's JSON and binary forms, the answers
 * compared pixel for pixel with /v1/segment's, and every malformed request as a 4xx `{"error": ...}`.
 */

const REAL = realFrame('frankfurt_000000_000294_leftImg8bit.png');
const SEG = 'lraspp_mobilenet_v3_large';
const CLS = 'mobilenet_v3_large';
const MAX_PIXELS = 300_000;
const BODY_LIMIT = 6 * 1024 ** 2;

type Json = Record<string, unknown>;
interface Output {
  name: string;
  datatype: string;
  shape: number[];
  data?: unknown[];
  parameters?: { binary_data_size: number };
}
interface Answer {
  head: { id?: string; model_name: string; model_version: string; parameters?: Record<string, unknown>; outputs: Output[] };
  /** Binary outputs' bytes by name. */
  binary: Map<string, Buffer>;
}

/** A BYTES element in Triton's binary form: 4-byte little-endian length, then the bytes. */
function bytesElement(bytes: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32LE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** A request with the binary tensor data extension: the JSON header, then the tail. */
function binaryBody(header: Json, tail: Buffer): { payload: Buffer; headers: Record<string, string> } {
  const json = Buffer.from(JSON.stringify(header));
  return {
    payload: Buffer.concat([json, tail]),
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(json.length) },
  };
}

/** Splits a response as the extension lays it out: JSON header (Inference-Header-Content-Length), then binary outputs in order. */
function parseAnswer(res: LightMyRequestResponse): Answer {
  const raw = res.rawPayload;
  const lengthHeader = res.headers['inference-header-content-length'];
  const headerLength = lengthHeader === undefined ? raw.length : Number(lengthHeader);
  const head = JSON.parse(raw.subarray(0, headerLength).toString()) as Answer['head'];
  const binary = new Map<string, Buffer>();
  let offset = headerLength;
  for (const output of head.outputs) {
    const size = output.parameters?.binary_data_size;
    if (size === undefined) continue;
    binary.set(output.name, raw.subarray(offset, offset + size));
    offset += size;
  }
  assert.equal(offset, raw.length, 'the binary outputs fill the body exactly');
  return { head, binary };
}

const imageInput = (png: Buffer) => ({ name: IMAGE_INPUT, datatype: 'BYTES', shape: [1], data: [png.toString('base64')] });

describe('Open Inference Protocol (/v2)', { skip: SHARED_REAL_SKIP }, () => {
  let app: FastifyInstance;
  let png: Buffer; // the real frame, 256x128
  let pixels: Buffer; // its RGB pixels, row-major
  let labelIds: Buffer; // /v1/segment?format=labelIds of the frame: the reference for class_ids

  const infer = (model: string, body: Json | { payload: Buffer; headers: Record<string, string> }, path = `/v2/models/${model}/infer`) =>
    'payload' in body && Buffer.isBuffer(body.payload)
      ? app.inject({ method: 'POST', url: path, payload: body.payload, headers: body.headers as Record<string, string> })
      : app.inject({ method: 'POST', url: path, payload: body as Json });

  /** Asserts a protocol error: the status, a JSON `{"error"}` body and nothing else, the message matching. */
  const assertError = (res: LightMyRequestResponse, status: number, message: RegExp) => {
    assert.equal(res.statusCode, status, res.body);
    assert.match(res.headers['content-type'] as string, /^application\/json/);
    const body = res.json() as Json;
    assert.deepEqual(Object.keys(body), ['error']);
    assert.match(body.error as string, message);
  };

  before(async () => {
    app = await appWithDefaultModels(testConfig({ CITYSEG_MAX_PIXELS: String(MAX_PIXELS), CITYSEG_BODY_LIMIT: String(BODY_LIMIT) }));
    png = readFileSync(REAL);
    pixels = (await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true })).data;
    const res = await app.inject({ method: 'POST', url: '/v1/segment?format=labelIds', payload: png, headers: { 'content-type': 'image/png' } });
    assert.equal(res.statusCode, 200);
    const mask = await decodeRaw(res.rawPayload);
    assert.deepEqual([mask.width, mask.height, mask.channels], [256, 128, 1]);
    labelIds = mask.data;
    assert.ok(new Set(labelIds).size > 1, 'the reference mask has more than one class');
  });
  after(() => app.close());

  describe('metadata and health', () => {
    it('GET /v2 names the server, its version and the binary tensor data extension', async () => {
      const res = await app.inject({ url: '/v2' });
      assert.equal(res.statusCode, 200);
      const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
      assert.deepEqual(res.json(), { name: 'cityseg', version, extensions: ['binary_tensor_data'] });
    });

    it('GET /v2/health/live and /v2/health/ready answer 200 with live/ready true', async () => {
      assert.deepEqual((await app.inject({ url: '/v2/health/live' })).json(), { live: true });
      const ready = await app.inject({ url: '/v2/health/ready' });
      assert.equal(ready.statusCode, 200);
      assert.deepEqual(ready.json(), { ready: true });
    });

    it('GET /v2/models/{name} lists the inputs and outputs with datatypes and shapes, -1 for variable dimensions', async () => {
      const seg = await app.inject({ url: `/v2/models/${SEG}` });
      assert.equal(seg.statusCode, 200);
      assert.deepEqual(seg.json(), {
        name: SEG,
        versions: ['1'],
        platform: 'cityseg_onnx',
        inputs: [
          { name: 'image', datatype: 'BYTES', shape: [1] },
          { name: 'pixels', datatype: 'UINT8', shape: [-1, -1, 3] },
        ],
        outputs: [
          { name: 'class_ids', datatype: 'UINT8', shape: [-1, -1] },
          { name: 'logits', datatype: 'FP32', shape: [19, -1, -1] },
        ],
        parameters: { arch: 'lraspp_mobilenet_v3_large', task: 'segmentation', num_classes: 19, labels: 'cityscapes' },
      });
      const cls = await app.inject({ url: `/v2/models/${CLS}/versions/1` });
      assert.equal(cls.statusCode, 200);
      assert.deepEqual((cls.json() as Json).outputs, [{ name: 'probabilities', datatype: 'FP32', shape: [1000] }]);
      // Untrained (no preset): torchvision's V1 transform.
      assert.deepEqual((cls.json() as Json).parameters, { arch: 'mobilenet_v3_large', task: 'classification', num_classes: 1000, labels: 'imagenet', resize_short_side: 256, crop_size: 224 });
      assert.deepEqual((cls.json() as Json).versions, ['1']);
    });

    it('GET /v2/models/{name}[/versions/1]/ready answers name and ready', async () => {
      for (const url of [`/v2/models/${SEG}/ready`, `/v2/models/${CLS}/versions/1/ready`]) {
        const res = await app.inject({ url });
        assert.equal(res.statusCode, 200);
        assert.deepEqual(res.json(), { name: url.includes(SEG) ? SEG : CLS, ready: true });
      }
    });

    it('an unknown model, an unknown version and an unknown /v2 path are 404 {"error"}', async () => {
      assertError(await app.inject({ url: '/v2/models/nope' }), 404, /unknown model "nope" \(served: lraspp_mobilenet_v3_large, mobilenet_v3_large\)/);
      assertError(await app.inject({ url: '/v2/models/nope/ready' }), 404, /unknown model "nope"/);
      assertError(await app.inject({ url: `/v2/models/${SEG}/versions/2` }), 404, /has no version "2" \(versions: 1\)/);
      assertError(await app.inject({ url: `/v2/models/${SEG}/versions/2/ready` }), 404, /no version "2"/);
      assertError(await infer('nope', { inputs: [imageInput(png)] }), 404, /unknown model "nope"/);
      assertError(await infer(SEG, { inputs: [imageInput(png)] }, `/v2/models/${SEG}/versions/7/infer`), 404, /no version "7"/);
      assertError(await app.inject({ url: '/v2/repository/index' }), 404, /no route GET \/v2\/repository\/index/);
      assertError(await app.inject({ url: `/v2/models/${SEG}/infer` }), 404, /no route GET/);
    });
  });

  describe('segmentation', () => {
    it('JSON form, image input (base64 BYTES): class_ids equal /v1/segment labelIds pixel for pixel, id echoed', async () => {
      const res = await infer(SEG, { id: 'frame-1', inputs: [imageInput(png)] });
      assert.equal(res.statusCode, 200, res.body);
      assert.match(res.headers['content-type'] as string, /^application\/json/);
      assert.equal(res.headers['inference-header-content-length'], undefined);
      const { head } = parseAnswer(res);
      assert.equal(head.id, 'frame-1');
      assert.equal(head.model_name, SEG);
      assert.equal(head.model_version, '1');
      assert.deepEqual(head.parameters, { trained: false }, 'the untrained test model says so');
      assert.equal(res.headers['x-model-trained'], 'false');
      assert.equal(head.outputs.length, 1, 'logits only when asked for by name');
      const [classIds] = head.outputs;
      assert.deepEqual([classIds.name, classIds.datatype, classIds.shape], ['class_ids', 'UINT8', [128, 256]]);
      assert.deepEqual(classIds.data, [...labelIds]);
    });

    it('binary form both ways (length-prefixed BYTES in, binary_data_output out) on the versions path', async () => {
      const body = binaryBody(
        { inputs: [{ name: IMAGE_INPUT, datatype: 'BYTES', shape: [1], parameters: { binary_data_size: png.length + 4 } }], parameters: { binary_data_output: true } },
        bytesElement(png),
      );
      const res = await infer(SEG, body, `/v2/models/${SEG}/versions/1/infer`);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.headers['content-type'], 'application/octet-stream');
      const { head, binary } = parseAnswer(res);
      assert.equal(head.id, undefined);
      assert.deepEqual(head.outputs, [{ name: 'class_ids', datatype: 'UINT8', shape: [128, 256], parameters: { binary_data_size: 256 * 128 } }]);
      assert.ok(binary.get('class_ids')?.equals(labelIds));
    });

    it('a gzip-compressed binary request (tritonclient\'s request_compression_algorithm) reads the same', async () => {
      const body = binaryBody({ inputs: [{ name: IMAGE_INPUT, datatype: 'BYTES', shape: [1], parameters: { binary_data_size: png.length + 4 } }], parameters: { binary_data_output: true } }, bytesElement(png));
      const res = await infer(SEG, { payload: gzipSync(body.payload), headers: { ...body.headers, 'content-encoding': 'gzip' } });
      assert.equal(res.statusCode, 200, res.body);
      assert.ok(parseAnswer(res).binary.get('class_ids')?.equals(labelIds));
    });

    it('pixels input (UINT8 [H, W, 3]) in JSON and in binary gives the same class_ids as the encoded image', async () => {
      const shape = [128, 256, 3];
      const json = await infer(SEG, { inputs: [{ name: PIXELS_INPUT, datatype: 'UINT8', shape, data: [...pixels] }] });
      assert.equal(json.statusCode, 200, json.body);
      assert.deepEqual(parseAnswer(json).head.outputs[0].data, [...labelIds]);

      // Nested JSON data (the specification allows it) reads the same.
      const rows = Array.from({ length: 2 }, (_, y) => Array.from({ length: 3 }, (_, x) => [...pixels.subarray((y * 3 + x) * 3, (y * 3 + x) * 3 + 3)]));
      const nested = await infer(SEG, { inputs: [{ name: PIXELS_INPUT, datatype: 'UINT8', shape: [2, 3, 3], data: rows }] });
      assert.equal(nested.statusCode, 200, nested.body);
      assert.deepEqual(parseAnswer(nested).head.outputs[0].shape, [2, 3]);

      const body = binaryBody(
        {
          inputs: [{ name: PIXELS_INPUT, datatype: 'UINT8', shape, parameters: { binary_data_size: pixels.length } }],
          outputs: [{ name: 'class_ids', parameters: { binary_data: true } }],
        },
        pixels,
      );
      const binary = await infer(SEG, body);
      assert.equal(binary.statusCode, 200, binary.body);
      assert.ok(parseAnswer(binary).binary.get('class_ids')?.equals(labelIds));
    });

    it('nested pixel data must have the shape\'s structure: ragged rows and deeper nesting are 400 {"error"}', async () => {
      const row = (n: number) => Array.from({ length: n }, () => [1, 2, 3]);
      // 2x3x3 elements in total, but the first row has 2 pixels and the second 4.
      const cases: [unknown, RegExp][] = [
        [[row(2), row(4)], /data\[0\] has 2 entries, not 3 entries/],
        [[row(3)], /data has 1 entries, not 2 entries/],
        [[row(3), [[1, 2, 3], [4, 5], [6, 7, 8, 9]]], /data\[1\]\[1\] has 2 entries, not 3 entries/],
        [[row(3), [[1, 2, 3], [4, 5, [6]], [7, 8, 9]]], /deeper than shape \[2, 3, 3\] at data\[1\]\[1\]\[2\]/],
        [[row(3), [row(3)[0], row(3)[1], 7]], /data\[1\]\[2\] has 7, not 3 entries/],
      ];
      for (const [data, detail] of cases) {
        const res = await infer(SEG, { inputs: [{ name: PIXELS_INPUT, datatype: 'UINT8', shape: [2, 3, 3], data }] });
        assert.equal(res.statusCode, 400, res.body);
        assert.match(res.headers['content-type'] as string, /^application\/json/);
        assert.match(res.json().error, detail);
      }
    });

    it('logits when asked for by name: FP32 [C, h, w], the same values in JSON and binary, per-output binary_data over the global flag', async () => {
      const outputs = [{ name: 'logits', parameters: { binary_data: true } }, { name: 'class_ids', parameters: { binary_data: false } }];
      const res = await infer(SEG, { inputs: [imageInput(png)], outputs, parameters: { binary_data_output: true } });
      assert.equal(res.statusCode, 200, res.body);
      const { head, binary } = parseAnswer(res);
      assert.deepEqual(head.outputs.map((o) => o.name), ['logits', 'class_ids'], 'in the order asked');
      const [logits, classIds] = head.outputs;
      assert.equal(logits.datatype, 'FP32');
      // The network runs at 64x32 (CITYSEG_INFERENCE_SIZE=64) and answers at 1/8 of that.
      assert.deepEqual(logits.shape, [19, 4, 8]);
      const [c, h, w] = logits.shape;
      const values = new Float32Array(new Uint8Array(binary.get('logits') ?? Buffer.alloc(0)).buffer);
      assert.equal(values.length, c * h * w);
      assert.ok(values.every(Number.isFinite));
      assert.deepEqual(classIds.data, [...labelIds]);

      const json = await infer(SEG, { inputs: [imageInput(png)], outputs: [{ name: 'logits' }] });
      const jsonLogits = parseAnswer(json).head.outputs[0];
      assert.deepEqual(jsonLogits.shape, [c, h, w]);
      assert.deepEqual((jsonLogits.data as number[]).map(Math.fround), [...values]);
    });

    it('parameters follow /v1/segment: size=32 gives the same class_ids as ?size=32, slide mode as ?mode=slide', async () => {
      for (const [parameters, query] of [
        [{ size: 32 }, 'size=32'],
        [{ mode: 'slide', crop: '32x32', stride: '16x16', flip: true }, 'mode=slide&crop=32x32&stride=16x16&flip=true'],
      ] as const) {
        const rest = await app.inject({ method: 'POST', url: `/v1/segment?format=labelIds&${query}`, payload: png, headers: { 'content-type': 'image/png' } });
        const expected = (await decodeRaw(rest.rawPayload)).data;
        assert.ok(!expected.equals(labelIds) || query.startsWith('mode'), 'size=32 changes the mask');
        const res = await infer(SEG, { inputs: [imageInput(png)], parameters: { ...parameters, binary_data_output: true } });
        assert.equal(res.statusCode, 200, res.body);
        assert.ok(parseAnswer(res).binary.get('class_ids')?.equals(expected), query);
      }
    });
  });

  describe('classification', () => {
    it('probabilities FP32 [1000] in class order, equal to /v1/classify?topk=1000, JSON and binary', async () => {
      const rest = await app.inject({ method: 'POST', url: `/v1/classify?topk=1000&model=${CLS}`, payload: png, headers: { 'content-type': 'image/png' } });
      const expected = new Float32Array(1000);
      for (const entry of (rest.json() as { classes: { index: number; probability: number }[] }).classes) expected[entry.index] = entry.probability;

      const json = await infer(CLS, { id: '7', inputs: [imageInput(png)] });
      assert.equal(json.statusCode, 200, json.body);
      const [probabilities] = parseAnswer(json).head.outputs;
      assert.deepEqual([probabilities.name, probabilities.datatype, probabilities.shape], ['probabilities', 'FP32', [1000]]);
      assert.deepEqual((probabilities.data as number[]).map(Math.fround), [...expected]);

      const body = binaryBody(
        { inputs: [{ name: PIXELS_INPUT, datatype: 'UINT8', shape: [128, 256, 3], parameters: { binary_data_size: pixels.length } }], outputs: [{ name: 'probabilities', parameters: { binary_data: true } }] },
        pixels,
      );
      const binary = parseAnswer(await infer(CLS, body)).binary.get('probabilities') ?? Buffer.alloc(0);
      assert.deepEqual([...new Float32Array(new Uint8Array(binary).buffer)], [...expected]);
    });
  });

  describe('malformed requests: 4xx {"error"} naming what was wrong', () => {
    const pixelsInput = (shape: number[], data: unknown[]) => ({ name: PIXELS_INPUT, datatype: 'UINT8', shape, data });

    it('inputs: missing, two, unknown name, wrong datatype, wrong shape, shape/data mismatch, bad elements', async () => {
      const cases: [Json, RegExp][] = [
        [{}, /the request has no input/],
        [{ inputs: [] }, /the request has no input/],
        [{ inputs: [imageInput(png), imageInput(png)] }, /the request has 2 inputs: send one/],
        [{ inputs: [{ ...imageInput(png), name: 'input0' }] }, /unknown input "input0": the model's inputs are "image" \(BYTES \[1\]\) and "pixels"/],
        [{ inputs: [{ ...imageInput(png), datatype: 'UINT8' }] }, /input "image" has datatype BYTES \(an encoded image\), not UINT8/],
        [{ inputs: [{ ...pixelsInput([1, 1, 3], [0, 0, 0]), datatype: 'FP32' }] }, /input "pixels" has datatype UINT8 \(RGB pixels\), not FP32/],
        [{ inputs: [{ ...imageInput(png), shape: [2] }] }, /input "image" has shape \[1\] \(one encoded image\), not \[2\]/],
        [{ inputs: [pixelsInput([2, 2, 4], Array(16).fill(0))] }, /input "pixels" has shape \[H, W, 3\].*not \[2, 2, 4\]/],
        [{ inputs: [pixelsInput([2, 2, 3], Array(11).fill(0))] }, /shape \[2, 2, 3\] has 12 elements but data holds 11/],
        [{ inputs: [pixelsInput([1, 1, 3], [0, 256, 0])] }, /element 1 is 256, not a UINT8/],
        [{ inputs: [pixelsInput([1, 1, 3], [0, 'a', 0])] }, /element 1 is "a", not a UINT8/],
        [{ inputs: [pixelsInput([1, 1, 3], [0, [[[1]]], 0])] }, /element 1 is an array, not a UINT8/],
        [{ inputs: [{ ...imageInput(png), data: [12] }] }, /a BYTES element in JSON is a string/],
        [{ inputs: [{ ...imageInput(png), data: ['not base64!'] }] }, /must be the image bytes in base64/],
        [{ inputs: [{ name: IMAGE_INPUT, datatype: 'BYTES', shape: [1] }] }, /input "image" has neither data nor parameters.binary_data_size/],
        [{ inputs: [{ ...imageInput(png), shape: [-1] }] }, /shape must be an array of non-negative integers/],
        [{ inputs: [{ ...imageInput(png), extra: 1 }] }, /inputs\[0\] has an unknown field "extra"/],
        [{ inputs: [imageInput(png)], id: 5 }, /id must be a string/],
        [{ inputs: [imageInput(png)], priority: 1 }, /unknown field "priority"/],
      ];
      for (const [body, message] of cases) assertError(await infer(SEG, body), 400, message);
    });

    it('outputs and parameters: unknown output, duplicate, unknown parameter, the other task\'s, bad values, logits with a mode', async () => {
      const cases: [string, Json, RegExp][] = [
        [SEG, { outputs: [{ name: 'probabilities' }] }, /unknown output "probabilities": this model's outputs are "class_ids", "logits"/],
        [CLS, { outputs: [{ name: 'class_ids' }] }, /unknown output "class_ids": this model's outputs are "probabilities"/],
        [SEG, { outputs: [{ name: 'class_ids' }, { name: 'class_ids' }] }, /output "class_ids" is requested twice/],
        [SEG, { outputs: [{ name: 'class_ids', parameters: { classification: 3 } }] }, /output "class_ids": parameters has an unknown field "classification"/],
        [SEG, { outputs: [{ name: 'class_ids', parameters: { binary_data: 'yes' } }] }, /binary_data must be true or false/],
        [SEG, { parameters: { format: 'color' } }, /unknown parameter "format" \(this segmentation model takes size, mode, crop, stride, scales, flip/],
        [CLS, { parameters: { size: 512 } }, /parameter "size" applies to segmentation models, not to this classification model/],
        [SEG, { parameters: { size: 8 } }, /parameter "size" is 8 but must be integer 32..4096 or one of "native"/],
        [SEG, { parameters: { flip: 'true' } }, /parameter "flip" is "true" but must be boolean/],
        [SEG, { parameters: { binary_data_output: 1 } }, /parameters.binary_data_output must be true or false/],
        [SEG, { parameters: { mode: 'slide', crop: '64x16', stride: '128x8' } }, /parameters\/stride/],
        [SEG, { parameters: { flip: true }, outputs: [{ name: 'logits' }] }, /the logits output comes from one whole forward pass/],
      ];
      for (const [model, extra, message] of cases) assertError(await infer(model, { inputs: [imageInput(png)], ...extra }), 400, message);
    });

    it('bodies: bad JSON, not an object, undecodable image bytes, a JSON body over its limit, too many pixels, over the body limit', async () => {
      const raw = (payload: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
        app.inject({ method: 'POST', url: `/v2/models/${SEG}/infer`, payload, headers });
      assertError(await raw('{"inputs": ['), 400, /the inference request is not valid JSON/);
      assertError(await raw('[1]'), 400, /must be a JSON object with "inputs"/);
      // Nested far deeper than any shape: refused before JSON.parse, whose time grows with the depth.
      const deep = `{"inputs":[{"name":"pixels","datatype":"UINT8","shape":[1,1,3],"data":[${'['.repeat(500_000)}${']'.repeat(500_000)}]}]}`;
      assertError(await raw(deep), 400, /nests arrays and objects at most 16 deep, and this one deeper/);
      const deepId = `{"id":${'['.repeat(2_000_000)},"inputs":[]}`;
      assertError(await raw(deepId), 400, /at most 16 deep/);
      // Brackets inside strings are text, not nesting.
      const bracketsInId = { id: '['.repeat(100), inputs: [pixelsInput([1, 1, 3], [0, 0, 0])] };
      assert.equal((await infer(SEG, bracketsInId)).statusCode, 200);
      assertError(await raw(''), 400, /has no JSON inference request object/);
      assertError(await infer(SEG, { inputs: [{ ...imageInput(png), data: [Buffer.from('not an image').toString('base64')] }] }), 415, /not an image in any recognised format/);
      assertError(await infer(SEG, { inputs: [{ ...imageInput(png), data: [png.subarray(0, 2000).toString('base64')] }] }), 422, /truncated or corrupt/);
      assertError(await raw(Buffer.alloc(MAX_JSON_HEADER_BYTES + 1, 32)), 413, /a JSON inference request has at most 4194304 bytes.*binary tensor data extension/);
      assertError(await infer(SEG, { inputs: [pixelsInput([1000, 1000, 3], [])] }), 413, /1000x1000/);
      const manyElements = Array(MAX_JSON_ELEMENTS + 2).fill(0);
      assertError(await infer(SEG, { inputs: [pixelsInput([1, manyElements.length / 3, 3], manyElements)] }), 413, /holds at most 262144 array elements .*send large tensors in binary/);
      const tooLarge = binaryBody({ inputs: [{ name: PIXELS_INPUT, datatype: 'UINT8', shape: [1, 1, 3], parameters: { binary_data_size: BODY_LIMIT } }] }, Buffer.alloc(BODY_LIMIT));
      assertError(await infer(SEG, tooLarge), 413, /body/i);
    });

    it('binary framing: header length over the body, not a number, binary_data_size mismatch or without the header, data and binary both, BYTES lengths', async () => {
      const header = { inputs: [{ name: PIXELS_INPUT, datatype: 'UINT8', shape: [1, 2, 3], parameters: { binary_data_size: 6 } }] };
      const good = binaryBody(header, Buffer.alloc(6));
      const withHeader = (value: string) => ({ payload: good.payload, headers: { ...good.headers, 'inference-header-content-length': value } });
      assert.equal((await infer(SEG, good)).statusCode, 200);
      assertError(await infer(SEG, withHeader(String(good.payload.length + 1))), 400, /Inference-Header-Content-Length is \d+ but the body has only \d+ bytes/);
      assertError(await infer(SEG, withHeader('ten')), 400, /Inference-Header-Content-Length must be a byte count/);
      assertError(await infer(SEG, binaryBody(header, Buffer.alloc(5))), 400, /binary_data_size is 6 but the body has 5 bytes after the JSON header/);
      assertError(await infer(SEG, binaryBody(header, Buffer.alloc(7))), 400, /binary_data_size is 6 but the body has 7 bytes/);
      const sixButFive = { inputs: [{ name: PIXELS_INPUT, datatype: 'UINT8', shape: [1, 2, 3], parameters: { binary_data_size: 5 } }] };
      assertError(await infer(SEG, binaryBody(sixButFive, Buffer.alloc(5))), 400, /shape \[1, 2, 3\] is 6 UINT8 bytes but binary_data_size is 5/);
      assertError(await infer(SEG, header), 400, /binary_data_size but the request has no Inference-Header-Content-Length header/);
      const both = { inputs: [{ ...header.inputs[0], data: [0, 0, 0, 0, 0, 0] }] };
      assertError(await infer(SEG, binaryBody(both, Buffer.alloc(6))), 400, /has both data and binary_data_size/);
      const noSize = { inputs: [{ name: PIXELS_INPUT, datatype: 'UINT8', shape: [1, 2, 3], data: [0, 0, 0, 0, 0, 0] }] };
      assertError(await infer(SEG, binaryBody(noSize, Buffer.alloc(3))), 400, /3 bytes after the JSON header but no input declares binary_data_size/);
      const bytes = (tail: Buffer) => binaryBody({ inputs: [{ name: IMAGE_INPUT, datatype: 'BYTES', shape: [1], parameters: { binary_data_size: tail.length } }] }, tail);
      assertError(await infer(SEG, bytes(Buffer.from([9, 0, 0, 0, 1, 2]))), 400, /BYTES element 0 declares 9 bytes but only 2 remain/);
      assertError(await infer(SEG, bytes(Buffer.from([1, 0]))), 400, /no complete 4-byte length/);
      assertError(await infer(SEG, bytes(Buffer.concat([bytesElement(png), bytesElement(png)]))), 400, /shape \[1\] but its binary data holds 2 BYTES elements/);
    });
  });
});
