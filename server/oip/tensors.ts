import { HttpProblem } from '../problems.js';

/**
 * Tensors of the Open Inference Protocol (KServe v2 / Triton HTTP): the data types cityseg reads and writes, and
 * Triton's binary tensor data extension's element layout (little-endian, row-major, no padding; a BYTES element
 * is a 4-byte little-endian length followed by its bytes). Sources: kserve/open-inference-protocol
 * `specification/protocol/inference_rest.md` (Tensor Data Types) and triton-inference-server/server
 * `docs/protocol/extension_binary_data.md`.
 */

/** The data types of the protocol that cityseg's tensors use, with their size in bytes (BYTES is variable). */
export const DATATYPE_BYTES = { UINT8: 1, INT32: 4, FP32: 4, BYTES: undefined } as const;

export type Datatype = keyof typeof DATATYPE_BYTES;

/** A tensor's metadata as GET /v2/models/{name} lists it (`-1` for a variable dimension). */
export interface TensorMetadata {
  name: string;
  datatype: Datatype;
  shape: number[];
}

/** An output tensor ready to send: typed data of `shape`'s element count. */
export interface OutputTensor {
  name: string;
  datatype: 'UINT8' | 'INT32' | 'FP32';
  shape: number[];
  data: Uint8Array | Int32Array | Float32Array;
  /** Sent in the binary tail (binary tensor data extension) instead of as a JSON array. */
  binary: boolean;
}

/** Elements of a tensor of `shape` (1 for a scalar shape []). */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((product, dim) => product * dim, 1);
}

/** A 400 in the protocol's words (the /v2 scope answers it as `{"error": detail}`). */
export function badRequest(detail: string): HttpProblem {
  return new HttpProblem('bad-parameter', detail);
}

/**
 * The elements of a BYTES tensor in binary form: each a 4-byte little-endian length and that many bytes; the
 * lengths must use up `data` exactly. Returns views into `data` (no copy). Throws a 400 naming `input`.
 */
export function splitBytesElements(data: Uint8Array, input: string): Uint8Array[] {
  const elements: Uint8Array[] = [];
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let offset = 0;
  while (offset < data.length) {
    if (offset + 4 > data.length) {
      throw badRequest(`input "${input}": BYTES element ${elements.length} starts at byte ${offset} but has no complete 4-byte length`);
    }
    const length = view.getUint32(offset, true);
    offset += 4;
    if (offset + length > data.length) {
      throw badRequest(`input "${input}": BYTES element ${elements.length} declares ${length} bytes but only ${data.length - offset} remain`);
    }
    elements.push(data.subarray(offset, offset + length));
    offset += length;
  }
  return elements;
}

/**
 * A client's JSON value for an error message: scalars as JSON (cut at 40 characters), arrays and objects by kind,
 * since stringifying a deeply nested one would overflow the stack.
 */
export function describeValue(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/** Raw little-endian bytes of a typed array (a view, no copy: every platform Node runs on is little-endian). */
export function tensorBytes(data: OutputTensor['data']): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * A JSON array text of the tensor's elements, row-major (the protocol's JSON form is flat). Float32 values are
 * written as the shortest decimal of their double value, which reads back to the same float32.
 */
export function jsonArrayText(data: OutputTensor['data']): string {
  return `[${data.join(',')}]`;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The bytes of a BYTES element sent in JSON: a base64 string (what KServe's and Triton's Python clients send for
 * binary payloads such as encoded images, since a JSON string cannot carry arbitrary bytes). Padding optional.
 */
export function decodeBase64Element(text: string, input: string): Uint8Array {
  const compact = text.replace(/\s+/g, '');
  if (!BASE64.test(compact) || compact.length % 4 === 1) {
    throw badRequest(`input "${input}": a BYTES element in JSON must be the image bytes in base64 (RFC 4648), and this one is not`);
  }
  return Buffer.from(compact, 'base64');
}
