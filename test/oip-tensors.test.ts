import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { estimateOipOutputBytes } from '../server/working-memory.js';
import { classIdsDatatype, classIdsTensor, encodeResponse, logitsTensor } from '../server/oip/response.js';
import { decodeBase64Element, splitBytesElements } from '../server/oip/tensors.js';
import type { LabelSet } from '../segmentation/labels/index.js';

/** Tensor codecs of the Open Inference Protocol, against the layouts of Triton's extension_binary_data.md. */

const labels = (ids: number[]): LabelSet => ({
  name: 'test',
  classes: ids.map((id, index) => ({ index, id, name: `c${index}`, color: [index, index, index] })),
});

describe('Open Inference Protocol tensors', () => {
  it('encodes the specification\'s binary example: FP32 [3, 2] → JSON header with binary_data_size 24, then 24 little-endian bytes', () => {
    const data = new Float32Array([1.0, 1.1, 2.0, 2.1, 3.0, 3.1]);
    const { body, contentType, headerLength } = encodeResponse({ id: '42', model_name: 'mymodel', model_version: '1' }, [
      { name: 'output0', datatype: 'FP32', shape: [3, 2], data, binary: true },
    ]);
    assert.equal(contentType, 'application/octet-stream');
    const head = JSON.parse(Buffer.from(body.subarray(0, headerLength)).toString());
    assert.deepEqual(head, { id: '42', model_name: 'mymodel', model_version: '1', outputs: [{ name: 'output0', datatype: 'FP32', shape: [3, 2], parameters: { binary_data_size: 24 } }] });
    const tail = Buffer.from(body.subarray(headerLength));
    assert.deepEqual(Array.from({ length: 6 }, (_, i) => tail.readFloatLE(i * 4)), [...data]);
    assert.equal(body.byteOffset, 0);
    assert.equal(body.buffer.byteLength, body.byteLength, 'the body owns its memory (a worker can move it)');
  });

  it('encodes the JSON form with data arrays, float32 values reading back exactly', () => {
    const { body, contentType, headerLength } = encodeResponse({ model_name: 'm', model_version: '1' }, [
      { name: 'output0', datatype: 'FP32', shape: [3], data: new Float32Array([0.1, -2.5, 3e-8]), binary: false },
    ]);
    assert.equal(contentType, 'application/json');
    assert.equal(headerLength, undefined);
    const { outputs } = JSON.parse(Buffer.from(body).toString());
    assert.deepEqual(outputs[0].data.map(Math.fround), [...new Float32Array([0.1, -2.5, 3e-8])]);
  });

  it('class_ids are dataset label ids: UINT8 while every id fits 0..255, INT32 otherwise; non-class values become 0', () => {
    const map = { data: new Uint8Array([0, 1, 2, 255]), width: 2, height: 2 };
    assert.equal(classIdsDatatype(labels([7, 26, 33])), 'UINT8');
    const small = classIdsTensor(map, labels([7, 26, 33]), true);
    assert.deepEqual([small.datatype, small.shape, [...small.data]], ['UINT8', [2, 2], [7, 26, 33, 0]]);
    assert.equal(classIdsDatatype(labels([7, 300, 33])), 'INT32');
    const wide = classIdsTensor(map, labels([7, 300, 33]), false);
    assert.deepEqual([wide.datatype, [...wide.data]], ['INT32', [7, 300, 33, 0]]);
    assert.equal(classIdsDatatype(labels([-1, 3])), 'INT32');
  });

  it('logits NHWC [1, h, w, C] become [C, h, w]', () => {
    // h=1, w=2, C=3: pixel 0 has (0, 1, 2), pixel 1 has (10, 11, 12).
    const tensor = logitsTensor({ data: new Float32Array([0, 1, 2, 10, 11, 12]), shape: [1, 1, 2, 3] }, true);
    assert.deepEqual(tensor.shape, [3, 1, 2]);
    assert.deepEqual([...tensor.data], [0, 10, 1, 11, 2, 12]);
  });

  it('splits length-prefixed BYTES elements and refuses a length past the end', () => {
    const body = Buffer.from([2, 0, 0, 0, 0xff, 0xd8, 0, 0, 0, 0, 1, 0, 0, 0, 9]);
    assert.deepEqual(splitBytesElements(body, 'x').map((e) => [...e]), [[0xff, 0xd8], [], [9]]);
    assert.throws(() => splitBytesElements(Buffer.from([3, 0, 0, 0, 1]), 'x'), { message: 'input "x": BYTES element 0 declares 3 bytes but only 1 remain' });
  });

  it('reads base64 with or without padding and line breaks, and refuses other text', () => {
    assert.deepEqual([...decodeBase64Element('/9j/4A==', 'x')], [0xff, 0xd8, 0xff, 0xe0]);
    assert.deepEqual([...decodeBase64Element('/9j/\n4A', 'x')], [0xff, 0xd8, 0xff, 0xe0]);
    assert.throws(() => decodeBase64Element('data:image/png;base64,AAAA', 'x'), /must be the image bytes in base64/);
    assert.throws(() => decodeBase64Element('AAAAA', 'x'), /must be the image bytes in base64/);
  });

  it('estimates the response tensors\' memory: binary = the array and its copy, JSON adds its text', () => {
    const facts = { imagePixels: 1000, inferenceWidth: 64, inferenceHeight: 30, numClasses: 19, classIds: 'UINT8' as const };
    assert.equal(estimateOipOutputBytes([{ name: 'class_ids', binary: true }], facts), 2000);
    assert.equal(estimateOipOutputBytes([{ name: 'class_ids', binary: false }], facts), 1000 + 1000 * 4 * 2);
    // logits at 1/8: 8 x 4 pixels x 19 classes x 4 bytes, twice.
    assert.equal(estimateOipOutputBytes([{ name: 'logits', binary: true }], facts), 8 * 4 * 19 * 4 * 2);
  });
});
