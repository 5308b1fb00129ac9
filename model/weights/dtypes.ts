/**
 * Element types found in torch checkpoints and safetensors files, and the strided gather that turns a
 * storage of any of them into a row-major Float32Array.
 *
 * Precision: float64 and integers are rounded to the nearest float32. int64 goes through a JS number first
 * (exact up to 2^53), so integers above 2^24 lose low bits and values above 2^53 can differ from a direct
 * int64→float32 cast by one float32 step. State dicts only hold int64 in `num_batches_tracked`.
 */
export type DType = 'float64' | 'float32' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

type ElementReader = (view: DataView, byteOffset: number, littleEndian: boolean) => number;

const scratch = new DataView(new ArrayBuffer(4));

/** float16 bit patterns → values; built on first use (64 K entries) because fp16 checkpoints have millions. */
let halfTable: Float32Array | null = null;

function halfBitsToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24; // zero and subnormals
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

function halfToFloat(bits: number): number {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) halfTable[i] = halfBitsToNumber(i);
  }
  return halfTable[bits];
}

function bfloat16ToFloat(bits: number): number {
  // bfloat16 is the upper half of a float32.
  scratch.setUint32(0, bits << 16, true);
  return scratch.getFloat32(0, true);
}

interface DTypeInfo {
  itemSize: number;
  read: ElementReader;
}

export const DTYPES: Record<DType, DTypeInfo> = {
  float64: { itemSize: 8, read: (v, o, le) => v.getFloat64(o, le) },
  float32: { itemSize: 4, read: (v, o, le) => v.getFloat32(o, le) },
  float16: { itemSize: 2, read: (v, o, le) => halfToFloat(v.getUint16(o, le)) },
  bfloat16: { itemSize: 2, read: (v, o, le) => bfloat16ToFloat(v.getUint16(o, le)) },
  int64: { itemSize: 8, read: (v, o, le) => Number(v.getBigInt64(o, le)) },
  int32: { itemSize: 4, read: (v, o, le) => v.getInt32(o, le) },
  int16: { itemSize: 2, read: (v, o, le) => v.getInt16(o, le) },
  int8: { itemSize: 1, read: (v, o) => v.getInt8(o) },
  uint8: { itemSize: 1, read: (v, o) => v.getUint8(o) },
  bool: { itemSize: 1, read: (v, o) => (v.getUint8(o) !== 0 ? 1 : 0) },
};

/** Where a tensor's elements sit in its storage, in elements (torch's size / stride / storage_offset). */
export interface StridedLayout {
  shape: number[];
  stride: number[];
  offset: number;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

export function rowMajorStrides(shape: readonly number[]): number[] {
  const stride = new Array<number>(shape.length);
  let step = 1;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    stride[axis] = step;
    step *= shape[axis];
  }
  return stride;
}

/** Largest element index the layout touches, or -1 for an empty tensor. */
export function lastElementIndex(layout: StridedLayout): number {
  if (layout.shape.some((d) => d === 0)) return -1;
  return layout.shape.reduce((last, d, axis) => last + (d - 1) * layout.stride[axis], layout.offset);
}

function isRowMajor(layout: StridedLayout): boolean {
  const expected = rowMajorStrides(layout.shape);
  // Strides of size-1 axes never matter.
  return layout.shape.every((d, axis) => d === 1 || layout.stride[axis] === expected[axis]);
}

/**
 * Copy the layout's elements out of `storage` (raw bytes of `dtype`) into a row-major Float32Array.
 * The caller has checked that every index the layout touches lies inside the storage.
 */
export function gatherAsFloat32(
  storage: Uint8Array,
  dtype: DType,
  layout: StridedLayout,
  littleEndian = true,
): Float32Array {
  const { itemSize, read } = DTYPES[dtype];
  const count = elementCount(layout.shape);
  const out = new Float32Array(count);
  if (count === 0) return out;
  const view = new DataView(storage.buffer, storage.byteOffset, storage.byteLength);

  if (isRowMajor(layout)) {
    const start = layout.offset * itemSize;
    if (dtype === 'float32' && littleEndian && (storage.byteOffset + start) % 4 === 0) {
      out.set(new Float32Array(storage.buffer, storage.byteOffset + start, count));
    } else {
      for (let i = 0; i < count; i++) out[i] = read(view, start + i * itemSize, littleEndian);
    }
    return out;
  }

  // General strides: walk the output in row-major order with an odometer over the indices.
  const rank = layout.shape.length;
  const index = new Array<number>(rank).fill(0);
  let source = layout.offset;
  for (let i = 0; i < count; i++) {
    out[i] = read(view, source * itemSize, littleEndian);
    for (let axis = rank - 1; axis >= 0; axis--) {
      index[axis]++;
      source += layout.stride[axis];
      if (index[axis] < layout.shape[axis]) break;
      source -= index[axis] * layout.stride[axis];
      index[axis] = 0;
    }
  }
  return out;
}
