/**
 * NumPy's .npy format (v1.0 written; v1–v3 read) for float tensors: the parity fixtures' expected logits
 * and the CLI's logits dumps, readable with `numpy.load`.
 */
import type { Float32Tensor } from './engines/engine.js';

export class NpyError extends Error {
  override name = 'NpyError';
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
/** numpy pads the header so the data starts on a multiple of 64 bytes. */
const ALIGNMENT = 64;

/** Readable dtypes: bytes per value and how to read one (little-endian). */
const READABLE_DTYPES: Record<string, { size: number; read: (v: DataView, offset: number) => number }> = {
  '<f4': { size: 4, read: (v, o) => v.getFloat32(o, true) },
  '<f8': { size: 8, read: (v, o) => v.getFloat64(o, true) },
  '|u1': { size: 1, read: (v, o) => v.getUint8(o) },
};

function countOf(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

function pythonShape(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

/** Serialise as float32, C order, NPY v1.0. */
export function writeNpy(t: Float32Tensor): Buffer {
  if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new NpyError(`invalid shape [${t.shape}]`);
  if (countOf(t.shape) !== t.data.length) {
    throw new NpyError(`shape [${t.shape}] needs ${countOf(t.shape)} values but the tensor has ${t.data.length}`);
  }
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${pythonShape(t.shape)}, }`;
  const unpadded = MAGIC.length + 2 + 2 + dict.length + 1; // magic, version, header length, dict, newline
  const header = dict + ' '.repeat((ALIGNMENT - (unpadded % ALIGNMENT)) % ALIGNMENT) + '\n';
  const out = Buffer.alloc(MAGIC.length + 4 + header.length + t.data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1; // version 1.0
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  const view = new DataView(out.buffer, out.byteOffset + 10 + header.length, t.data.byteLength);
  for (let i = 0; i < t.data.length; i++) view.setFloat32(i * 4, t.data[i], true);
  return out;
}

function field(dict: string, key: string, pattern: string, name: string): string {
  const match = new RegExp(`['"]${key}['"]\\s*:\\s*${pattern}`).exec(dict);
  if (!match) throw new NpyError(`${name}: header has no readable '${key}' (${dict.trim()})`);
  return match[1];
}

/** Parse an .npy holding little-endian float32 or float64 in C order; float64 is rounded to float32. */
export function readNpy(bytes: Uint8Array, name = '<npy>'): Float32Tensor {
  if (bytes.length < 10 || !MAGIC.every((b, i) => bytes[i] === b)) throw new NpyError(`${name}: not an .npy file (bad magic)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  if (major < 1 || major > 3) throw new NpyError(`${name}: unsupported .npy version ${major}.${bytes[7]}`);
  const wideLength = major >= 2; // v2+ store the header length in 4 bytes
  if (wideLength && bytes.length < 12) throw new NpyError(`${name}: truncated header`);
  const headerLength = wideLength ? view.getUint32(8, true) : view.getUint16(8, true);
  const dataStart = (wideLength ? 12 : 10) + headerLength;
  if (dataStart > bytes.length) throw new NpyError(`${name}: truncated header (${headerLength} bytes declared)`);
  const dict = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(wideLength ? 12 : 10, dataStart));

  const descr = field(dict, 'descr', `['"]([^'"]*)['"]`, name);
  const dtype = READABLE_DTYPES[descr];
  if (!dtype) throw new NpyError(`${name}: unsupported dtype '${descr}' (readable: ${Object.keys(READABLE_DTYPES).join(', ')})`);
  if (field(dict, 'fortran_order', '(True|False)', name) === 'True') {
    throw new NpyError(`${name}: Fortran-order arrays are not supported; save with numpy.ascontiguousarray`);
  }
  const shape = field(dict, 'shape', '\\(([^)]*)\\)', name)
    .split(',')
    .map((s) => s.trim().replace(/L$/, ''))
    .filter((s) => s.length > 0)
    .map(Number);
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new NpyError(`${name}: malformed shape in header (${dict.trim()})`);

  const count = countOf(shape);
  const needed = count * dtype.size;
  if (bytes.length - dataStart < needed) {
    throw new NpyError(`${name}: truncated data: shape [${shape}] needs ${needed} bytes, ${bytes.length - dataStart} present`);
  }
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = dtype.read(view, dataStart + i * dtype.size);
  return { data, shape };
}
