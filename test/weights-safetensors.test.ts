/**
 * readSafetensors against a file of every supported dtype (scripts/make_fixtures.py) and against headers
 * that lie about sizes and offsets.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { WeightsError } from '../model/weights/errors.js';
import { readSafetensors } from '../model/weights/safetensors.js';

const fixtureUrl = (name: string): URL => new URL(`./fixtures/weights/${name}`, import.meta.url);

interface ExpectedTensors {
  tensors: Record<string, { shape: number[]; dtype: string; values: (number | string)[] }>;
}

function fromJson(value: number | string): number {
  const special: Record<string, number> = { nan: NaN, inf: Infinity, '-inf': -Infinity };
  return typeof value === 'string' ? special[value] : value;
}

/** A safetensors file from a header object and a data buffer (no checks: tests build broken ones). */
function build(header: Record<string, unknown>, data: Uint8Array, headerText = JSON.stringify(header)): Buffer {
  const json = Buffer.from(headerText);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, data]);
}

function assertWeightsError(bytes: Uint8Array, message: string): void {
  assert.throws(() => readSafetensors(bytes, 'bad.safetensors'), (error: unknown) => {
    assert.ok(error instanceof WeightsError, `expected a WeightsError, got ${String(error)}`);
    assert.equal(error.message, `bad.safetensors: ${message}`);
    return true;
  });
}

const twoFloats = (offsets: number[], shape = [2]): Record<string, unknown> => ({ w: { dtype: 'F32', shape, data_offsets: offsets } });

describe('readSafetensors', () => {
  it('reads F32, F16, BF16, F64, I64, I32, U8, BOOL, scalars and empty tensors exactly, in header order', async () => {
    const sd = readSafetensors(await readFile(fixtureUrl('dtypes.safetensors')), 'dtypes.safetensors');
    const expected = JSON.parse(await readFile(fixtureUrl('dtypes.json'), 'utf8')) as ExpectedTensors;
    assert.deepEqual([...sd.keys()], Object.keys(expected.tensors));
    for (const [name, want] of Object.entries(expected.tensors)) {
      const got = sd.get(name)!;
      assert.deepEqual(got.shape, want.shape, `${name} shape`);
      assert.equal(got.data.length, want.values.length, `${name} length`);
      want.values.forEach((v, i) => assert.equal(got.data[i], fromJson(v), `${name}[${i}] (${want.dtype})`));
    }
  });

  it('reads a well-formed hand-built file', () => {
    const data = Buffer.alloc(8);
    data.writeFloatLE(1.25, 0);
    data.writeFloatLE(-3, 4);
    const sd = readSafetensors(build({ __metadata__: { format: 'pt' }, ...twoFloats([0, 8]) }, data));
    assert.deepEqual(Array.from(sd.get('w')!.data), [1.25, -3]);
  });

  const data8 = new Uint8Array(8);
  const cases: [string, Uint8Array, string][] = [
    ['empty file', new Uint8Array(0), 'too short for a safetensors file (0 bytes)'],
    ['header longer than the file', build(twoFloats([0, 8]), data8).subarray(0, 20), `truncated safetensors file: header of ${JSON.stringify(twoFloats([0, 8])).length} bytes but only 12 follow`],
    ['offsets past the data', build(twoFloats([0, 8]), data8.subarray(0, 4)), 'tensor w: data_offsets [0, 8] run past the data (4 bytes; truncated?)'],
    ['offsets that disagree with the shape', build(twoFloats([0, 8], [3]), data8), 'tensor w: data_offsets [0, 8] span 8 bytes but shape [3] of float32 needs 12'],
    ['begin after end', build(twoFloats([8, 0]), data8), 'tensor w has malformed data_offsets [8,0]'],
    [
      'overlapping tensors',
      build({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, data8),
      'tensor b: data_offsets [4, 8] overlaps the tensor before it',
    ],
    ['a gap before a tensor', build({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, data8), 'tensor a: data_offsets [4, 8] leaves a gap after byte 0'],
    ['data the header does not account for', build(twoFloats([0, 8]), new Uint8Array(12)), 'safetensors data is 12 bytes but the header accounts for 8'],
    ['an unsupported dtype', build({ q: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, data8), 'tensor q has unsupported dtype "F8_E4M3"'],
    ['a malformed shape', build({ q: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, data8), 'tensor q has malformed shape [-1]'],
    ['a header that is not JSON', build({}, data8, '{"w": '), 'safetensors header is not valid JSON (Unexpected end of JSON input)'],
    ['a header that is a list', build({}, data8, '[1, 2]'), 'safetensors header is not a JSON object'],
  ];
  for (const [what, bytes, message] of cases) {
    it(`rejects ${what}`, () => assertWeightsError(bytes, message));
  }

  it('rejects an absurd header length before allocating it', () => {
    const bytes = Buffer.alloc(16);
    bytes.writeBigUInt64LE(1n << 40n);
    assertWeightsError(bytes, 'safetensors header length 1099511627776 is implausible');
  });
});
