/** .npy read/write: byte-identical with numpy's own files, float64 input, and clear refusals. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { NpyError, readNpy, writeNpy } from '../model/npy.js';

const parity = (name: string): URL => new URL(`./fixtures/parity/${name}`, import.meta.url);

/** An .npy file with the given header dict and data, v1.0, unpadded (numpy reads those too). */
function npy(dict: string, data: Uint8Array, version = 1): Buffer {
  const header = Buffer.from(dict + '\n', 'latin1');
  const prefix = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const length = Buffer.alloc(version === 1 ? 2 : 4);
  if (version === 1) length.writeUInt16LE(header.length);
  else length.writeUInt32LE(header.length);
  return Buffer.concat([prefix, length, header, data]);
}

function assertNpyError(bytes: Uint8Array, message: string): void {
  assert.throws(() => readNpy(bytes, 'x.npy'), (error: unknown) => {
    assert.ok(error instanceof NpyError);
    assert.equal(error.message, message);
    return true;
  });
}

describe('npy', () => {
  it('reads numpy-written logits and writes them back byte for byte', async () => {
    for (const name of ['lraspp_mobilenet_v3_small__street_64x96.npy', 'mobilenet_v3_small__street_224x224.npy']) {
      const original = await readFile(parity(name));
      const tensor = readNpy(original, name);
      assert.equal(tensor.data.length, tensor.shape.reduce((n, d) => n * d, 1));
      assert.ok(writeNpy(tensor).equals(original), `${name} round trip`);
    }
  });

  it('writes shapes the way Python prints tuples, data 64-byte aligned', () => {
    const cases: [number[], string][] = [
      [[], '()'],
      [[3], '(3,)'],
      [[2, 3], '(2, 3)'],
    ];
    for (const [shape, tuple] of cases) {
      const count = shape.reduce((n, d) => n * d, 1);
      const bytes = writeNpy({ shape, data: Float32Array.from({ length: count }, (_, i) => i - 0.5) });
      const headerLength = bytes.readUInt16LE(8);
      assert.equal((10 + headerLength) % 64, 0, `alignment for ${tuple}`);
      assert.equal(bytes.toString('latin1', 10, 10 + headerLength).trimEnd(), `{'descr': '<f4', 'fortran_order': False, 'shape': ${tuple}, }`);
      assert.deepEqual(readNpy(bytes), { shape, data: Float32Array.from({ length: count }, (_, i) => i - 0.5) });
    }
  });

  it('reads little-endian float64 (rounded to float32) and version 2 headers', () => {
    const data = Buffer.alloc(16);
    data.writeDoubleLE(1 / 3, 0);
    data.writeDoubleLE(-1e-3, 8);
    const t = readNpy(npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", data, 2));
    assert.deepEqual(t.shape, [2]);
    assert.deepEqual(Array.from(t.data), [Math.fround(1 / 3), Math.fround(-1e-3)]);
  });

  it('refuses writing data that does not fit the shape', () => {
    assert.throws(() => writeNpy({ shape: [2, 2], data: new Float32Array(3) }), {
      name: 'NpyError',
      message: 'shape [2,2] needs 4 values but the tensor has 3',
    });
  });

  it('refuses Fortran order, other dtypes, bad magic and truncated data with a clear message', () => {
    const four = new Uint8Array(16);
    assertNpyError(npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", four), 'x.npy: Fortran-order arrays are not supported; save with numpy.ascontiguousarray');
    assertNpyError(npy("{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", four), "x.npy: unsupported dtype '>f4' (readable: <f4, <f8, |u1)");
    assertNpyError(npy("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", four), "x.npy: unsupported dtype '<i8' (readable: <f4, <f8, |u1)");
    assertNpyError(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", four), 'x.npy: truncated data: shape [5] needs 20 bytes, 16 present');
    assertNpyError(Buffer.from('PK\x03\x04 not numpy'), 'x.npy: not an .npy file (bad magic)');
  });
});
