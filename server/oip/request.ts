import { ImageTooLargeError } from '../../segmentation/errors.js';
import { HttpProblem } from '../problems.js';
import { badRequest, decodeBase64Element, describeValue, elementCount, splitBytesElements } from './tensors.js';

/**
 * The inference request of the Open Inference Protocol (`$inference_request`, kserve/open-inference-protocol
 * inference_rest.md), in its JSON form or with Triton's binary tensor data extension (a JSON header of
 * `Inference-Header-Content-Length` bytes, then each binary input's `binary_data_size` bytes in input order).
 * cityseg's models take one input: `image` (BYTES [1], an encoded image) or `pixels` (UINT8 [H, W, 3], RGB).
 * Every malformed request is a 400 naming what was wrong; nothing here decodes pixels.
 */

/** Input names and what each carries; a request sends exactly one of them. */
export const IMAGE_INPUT = 'image';
export const PIXELS_INPUT = 'pixels';

/**
 * Largest JSON part of a request (the whole body without the binary extension). JSON.parse runs on the event
 * loop: 4 MiB parses in tens of milliseconds; bigger tensors travel in the binary form, which is not parsed.
 */
export const MAX_JSON_HEADER_BYTES = 4 * 1024 ** 2;

/**
 * Most array elements (counted as commas, before parsing) the JSON part may hold. Parsing numbers is what costs:
 * about 1 ms per 10,000 on an idle core, so this bounds JSON.parse on the event loop to tens of milliseconds
 * (a 300x290 RGB pixel tensor); base64 strings hold no commas and are cheap to parse.
 */
export const MAX_JSON_ELEMENTS = 262_144;

/**
 * Deepest nesting of arrays and objects the JSON part may have: a request with a nested [H, W, 3] pixel array needs
 * six levels. Unbounded nesting makes JSON.parse slow (2,000,000 levels in 4 MiB held the event loop for seconds).
 */
export const MAX_JSON_DEPTH = 16;

/** Request header of the binary tensor data extension: the JSON header's length in bytes. */
export const HEADER_LENGTH_HEADER = 'inference-header-content-length';

export type InferInput =
  | { kind: 'image'; bytes: Uint8Array }
  | { kind: 'pixels'; bytes: Uint8Array; width: number; height: number };

export interface RequestedOutput {
  name: string;
  /** `parameters.binary_data` of this output, when given (it overrides the request's `binary_data_output`). */
  binary?: boolean;
}

export interface InferRequest {
  id?: string;
  /** The request's parameters other than the extension's `binary_data_output`. */
  parameters: Record<string, unknown>;
  input: InferInput;
  /** Absent: every default output of the model. */
  outputs?: RequestedOutput[];
  /** `parameters.binary_data_output`: outputs default to the binary tail. */
  binaryOutput: boolean;
}

const REQUEST_KEYS = new Set(['id', 'parameters', 'inputs', 'outputs', 'model_name', 'model_version']);
const INPUT_KEYS = new Set(['name', 'shape', 'datatype', 'parameters', 'data']);
const OUTPUT_KEYS = new Set(['name', 'parameters']);

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkKeys(object: Json, allowed: Set<string>, where: string): void {
  for (const key of Object.keys(object)) {
    if (!allowed.has(key)) throw badRequest(`${where} has an unknown field "${key}" (expected: ${[...allowed].join(', ')})`);
  }
}

/** The JSON header and the binary tail of a body, split at Inference-Header-Content-Length when it is given. */
export function splitBody(body: Buffer, headerLength: string | string[] | undefined): { header: Buffer; tail: Buffer } {
  if (headerLength === undefined) {
    if (body.length > MAX_JSON_HEADER_BYTES) {
      throw new HttpProblem(
        'payload-too-large',
        `a JSON inference request has at most ${MAX_JSON_HEADER_BYTES} bytes and this one has ${body.length}: send the tensor ` +
          `in binary (Inference-Header-Content-Length and parameters.binary_data_size, Triton's binary tensor data extension)`,
      );
    }
    return { header: body, tail: body.subarray(body.length) };
  }
  const text = Array.isArray(headerLength) ? headerLength.join(',') : headerLength;
  const length = /^\d{1,15}$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!Number.isSafeInteger(length)) throw badRequest(`Inference-Header-Content-Length must be a byte count, got ${JSON.stringify(text)}`);
  if (length > body.length) {
    throw badRequest(`Inference-Header-Content-Length is ${length} but the body has only ${body.length} bytes`);
  }
  if (length > MAX_JSON_HEADER_BYTES) {
    throw new HttpProblem('payload-too-large', `the JSON header of an inference request has at most ${MAX_JSON_HEADER_BYTES} bytes, this one has ${length}`);
  }
  return { header: body.subarray(0, length), tail: body.subarray(length) };
}

/** Refuses a JSON part with more than MAX_JSON_ELEMENTS separators; the scan stops at the limit. */
function checkElementCount(header: Buffer): void {
  let commas = 0;
  for (let at = header.indexOf(0x2c); at !== -1; at = header.indexOf(0x2c, at + 1)) {
    if (++commas > MAX_JSON_ELEMENTS) {
      throw new HttpProblem(
        'payload-too-large',
        `the JSON part of an inference request holds at most ${MAX_JSON_ELEMENTS} array elements and this one holds more: send ` +
          `large tensors in binary (Inference-Header-Content-Length and parameters.binary_data_size, Triton's binary tensor data extension)`,
      );
    }
  }
}

/** Refuses a JSON part nested deeper than MAX_JSON_DEPTH; brackets inside strings do not count. One pass, no allocation. */
function checkDepth(header: Buffer): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < header.length; i++) {
    const byte = header[i];
    if (inString) {
      if (byte === 0x5c) i++; // a backslash escapes the next byte
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) {
      inString = true;
    } else if (byte === 0x5b || byte === 0x7b) {
      if (++depth > MAX_JSON_DEPTH) {
        throw badRequest(`the JSON part of an inference request nests arrays and objects at most ${MAX_JSON_DEPTH} deep, and this one deeper`);
      }
    } else if (byte === 0x5d || byte === 0x7d) {
      depth--;
    }
  }
}

function parseJson(header: Buffer): Json {
  if (header.length === 0) throw badRequest('the request has no JSON inference request object');
  checkElementCount(header);
  checkDepth(header);
  let value: unknown;
  try {
    value = JSON.parse(header.toString('utf8'));
  } catch (error) {
    throw badRequest(`the inference request is not valid JSON: ${(error as Error).message}`);
  }
  if (!isObject(value)) throw badRequest('the inference request must be a JSON object with "inputs"');
  return value;
}

function optionalObject(value: unknown, where: string): Json {
  if (value === undefined) return {};
  if (!isObject(value)) throw badRequest(`${where} must be a JSON object`);
  return value;
}

function optionalBoolean(value: unknown, where: string): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  throw badRequest(`${where} must be true or false`);
}

function shapeOf(value: unknown, input: string): number[] {
  if (!Array.isArray(value) || !value.every((dim) => Number.isSafeInteger(dim) && (dim as number) >= 0)) {
    throw badRequest(`input "${input}": shape must be an array of non-negative integers`);
  }
  return value as number[];
}

/**
 * JSON tensor data: the spec allows it flat or nested row-major; both flatten to the same elements. Nested data must
 * have the shape's structure exactly (every row as long as its dimension, the elements at the last level): a
 * ragged array of the right total count would otherwise shift every row after the short one. Nesting deeper than
 * the shape's dimensions is refused at the last level (no unbounded flatten, which would overflow the stack).
 */
function flatData(value: unknown, input: string, shape: readonly number[]): unknown[] {
  if (!Array.isArray(value)) throw badRequest(`input "${input}": data must be a JSON array`);
  // Flat data holding an array among its elements is refused by the element checks, naming the element.
  if (value.length === 0 || !value.every(Array.isArray)) return value;
  const elements: unknown[] = [];
  const walk = (level: unknown, depth: number, at: string): void => {
    if (!Array.isArray(level) || level.length !== shape[depth]) {
      const found = Array.isArray(level) ? `${level.length} entries` : describeValue(level);
      throw badRequest(`input "${input}": nested data does not match shape [${shape.join(', ')}]: data${at} has ${found}, not ${shape[depth]} entries`);
    }
    if (depth === shape.length - 1) {
      for (const [i, element] of level.entries()) {
        if (Array.isArray(element)) throw badRequest(`input "${input}": nested data is deeper than shape [${shape.join(', ')}] at data${at}[${i}]`);
        elements.push(element);
      }
      return;
    }
    for (const [i, row] of level.entries()) walk(row, depth + 1, `${at}[${i}]`);
  };
  walk(value, 0, '');
  return elements;
}

function imageInput(datatype: string, shape: number[], data: unknown, binary: Buffer | undefined): InferInput {
  if (datatype !== 'BYTES') {
    throw badRequest(`input "${IMAGE_INPUT}" has datatype BYTES (an encoded image), not ${datatype}; RGB pixels go in input "${PIXELS_INPUT}" (UINT8 [H, W, 3])`);
  }
  if (shape.length !== 1 || shape[0] !== 1) {
    throw badRequest(`input "${IMAGE_INPUT}" has shape [1] (one encoded image), not [${shape.join(', ')}]`);
  }
  if (binary) {
    const elements = splitBytesElements(binary, IMAGE_INPUT);
    if (elements.length !== 1) throw badRequest(`input "${IMAGE_INPUT}" has shape [1] but its binary data holds ${elements.length} BYTES elements`);
    return { kind: 'image', bytes: elements[0] };
  }
  const elements = flatData(data, IMAGE_INPUT, shape);
  if (elements.length !== 1) throw badRequest(`input "${IMAGE_INPUT}" has shape [1] but data holds ${elements.length} elements`);
  if (typeof elements[0] !== 'string') throw badRequest(`input "${IMAGE_INPUT}": a BYTES element in JSON is a string (the image in base64)`);
  return { kind: 'image', bytes: decodeBase64Element(elements[0], IMAGE_INPUT) };
}

function pixelsInput(datatype: string, shape: number[], data: unknown, binary: Buffer | undefined, maxPixels: number): InferInput {
  if (datatype !== 'UINT8') {
    throw badRequest(`input "${PIXELS_INPUT}" has datatype UINT8 (RGB pixels), not ${datatype}; an encoded image goes in input "${IMAGE_INPUT}" (BYTES [1])`);
  }
  if (shape.length !== 3 || shape[2] !== 3 || shape[0] === 0 || shape[1] === 0) {
    throw badRequest(`input "${PIXELS_INPUT}" has shape [H, W, 3] (rows, columns, RGB) with H, W >= 1, not [${shape.join(', ')}]`);
  }
  const [height, width] = shape;
  // Refused from the shape alone, before any element is read.
  if (width * height > maxPixels) throw new ImageTooLargeError(width, height, maxPixels);
  const count = elementCount(shape);
  if (binary) {
    if (binary.length !== count) {
      throw badRequest(`input "${PIXELS_INPUT}": shape [${shape.join(', ')}] is ${count} UINT8 bytes but binary_data_size is ${binary.length}`);
    }
    return { kind: 'pixels', bytes: binary, width, height };
  }
  const elements = flatData(data, PIXELS_INPUT, shape);
  if (elements.length !== count) {
    throw badRequest(`input "${PIXELS_INPUT}": shape [${shape.join(', ')}] has ${count} elements but data holds ${elements.length}`);
  }
  const bytes = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const value = elements[i];
    if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 255) {
      throw badRequest(`input "${PIXELS_INPUT}": element ${i} is ${describeValue(value)}, not a UINT8 (an integer 0..255)`);
    }
    bytes[i] = value as number;
  }
  return { kind: 'pixels', bytes, width, height };
}

function parseInputs(inputs: unknown, tail: Buffer, binaryForm: boolean, maxPixels: number): InferInput {
  if (!Array.isArray(inputs) || inputs.length === 0) {
    throw badRequest(`the request has no input: send one, "${IMAGE_INPUT}" (BYTES [1]) or "${PIXELS_INPUT}" (UINT8 [H, W, 3])`);
  }
  if (inputs.length > 1) throw badRequest(`the request has ${inputs.length} inputs: send one, "${IMAGE_INPUT}" or "${PIXELS_INPUT}"`);
  const input = inputs[0] as unknown;
  if (!isObject(input)) throw badRequest('inputs[0] must be a JSON object');
  checkKeys(input, INPUT_KEYS, 'inputs[0]');
  const { name, datatype } = input;
  if (typeof name !== 'string') throw badRequest('inputs[0] needs a "name"');
  if (typeof datatype !== 'string') throw badRequest(`input "${name}" needs a "datatype"`);
  const shape = shapeOf(input.shape, name);
  const parameters = optionalObject(input.parameters, `input "${name}": parameters`);
  checkKeys(parameters, new Set(['binary_data_size']), `input "${name}": parameters`);
  const size = parameters.binary_data_size;
  let binary: Buffer | undefined;
  if (size !== undefined) {
    if (!Number.isSafeInteger(size) || (size as number) < 0) throw badRequest(`input "${name}": binary_data_size must be a byte count`);
    if (!binaryForm) throw badRequest(`input "${name}" has binary_data_size but the request has no Inference-Header-Content-Length header`);
    if (input.data !== undefined) throw badRequest(`input "${name}" has both data and binary_data_size: send one`);
    if (size !== tail.length) {
      throw badRequest(`input "${name}": binary_data_size is ${size as number} but the body has ${tail.length} bytes after the JSON header`);
    }
    binary = tail;
  } else {
    if (tail.length > 0) throw badRequest(`the body has ${tail.length} bytes after the JSON header but no input declares binary_data_size`);
    if (input.data === undefined) throw badRequest(`input "${name}" has neither data nor parameters.binary_data_size`);
  }
  if (name === IMAGE_INPUT) return imageInput(datatype, shape, input.data, binary);
  if (name === PIXELS_INPUT) return pixelsInput(datatype, shape, input.data, binary, maxPixels);
  throw badRequest(`unknown input "${name}": the model's inputs are "${IMAGE_INPUT}" (BYTES [1]) and "${PIXELS_INPUT}" (UINT8 [H, W, 3]), send one`);
}

function parseOutputs(outputs: unknown, known: readonly string[]): RequestedOutput[] | undefined {
  if (outputs === undefined) return undefined;
  if (!Array.isArray(outputs)) throw badRequest('outputs must be an array of {"name": ...}');
  const seen = new Set<string>();
  return outputs.map((output: unknown, i) => {
    if (!isObject(output)) throw badRequest(`outputs[${i}] must be a JSON object`);
    checkKeys(output, OUTPUT_KEYS, `outputs[${i}]`);
    const { name } = output;
    if (typeof name !== 'string') throw badRequest(`outputs[${i}] needs a "name"`);
    if (!known.includes(name)) throw badRequest(`unknown output "${name}": this model's outputs are ${known.map((n) => `"${n}"`).join(', ')}`);
    if (seen.has(name)) throw badRequest(`output "${name}" is requested twice`);
    seen.add(name);
    const parameters = optionalObject(output.parameters, `output "${name}": parameters`);
    checkKeys(parameters, new Set(['binary_data']), `output "${name}": parameters`);
    return { name, binary: optionalBoolean(parameters.binary_data, `output "${name}": parameters.binary_data`) };
  });
}

/**
 * A request body (JSON, or JSON header + binary tail when `headerLength` is given) → the request, checked against
 * the model's output names; `maxPixels` refuses a pixel tensor from its shape. Throws 400 (413 for sizes).
 */
export function parseInferRequest(
  body: Buffer,
  headerLength: string | string[] | undefined,
  outputNames: readonly string[],
  maxPixels: number,
): InferRequest {
  const { header, tail } = splitBody(body, headerLength);
  const request = parseJson(header);
  checkKeys(request, REQUEST_KEYS, 'the inference request');
  if (request.id !== undefined && typeof request.id !== 'string') throw badRequest('id must be a string');
  const { binary_data_output: binaryOutput, ...parameters } = optionalObject(request.parameters, 'parameters');
  const input = parseInputs(request.inputs, tail, headerLength !== undefined, maxPixels);
  return {
    ...(request.id === undefined ? {} : { id: request.id }),
    parameters,
    input,
    outputs: parseOutputs(request.outputs, outputNames),
    binaryOutput: optionalBoolean(binaryOutput, 'parameters.binary_data_output') ?? false,
  };
}
