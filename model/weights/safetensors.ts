/**
 * Reader for the safetensors format: u64 little-endian header length N, N bytes of JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {...}}`, then the raw little-endian
 * tensor data, offsets relative to its start. Checked as strictly as the reference implementation:
 * tensors must tile the data buffer exactly, with sizes matching their shapes.
 */
import { DTYPES, elementCount, gatherAsFloat32, rowMajorStrides, type DType } from './dtypes.js';
import { UNNAMED_SOURCE, WeightsError } from './errors.js';
import type { StateDict } from './state-dict.js';
import { StoredTensor } from './stored-tensor.js';

const SAFETENSORS_DTYPES: Record<string, DType> = {
  F64: 'float64',
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};

/** The reference implementation refuses headers above 100 MB; so do we, before allocating anything. */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';

interface HeaderEntry {
  name: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

function isIndexList(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((v) => Number.isSafeInteger(v) && (v as number) >= 0);
}

/** Length of the JSON header if `bytes` plausibly starts a safetensors file (used to sniff the format). */
export function safetensorsHeaderLength(bytes: Uint8Array): number | null {
  if (bytes.length < 9) return null;
  const length = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  return length > 0n && length <= BigInt(MAX_HEADER_BYTES) && bytes[8] === 0x7b /* { */ ? Number(length) : null;
}

function parseHeader(bytes: Uint8Array, file: string): { entries: HeaderEntry[]; dataStart: number } {
  if (bytes.length < 8) throw new WeightsError(file, `too short for a safetensors file (${bytes.length} bytes)`);
  const declared = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (declared > BigInt(MAX_HEADER_BYTES)) throw new WeightsError(file, `safetensors header length ${declared} is implausible`);
  const headerLength = Number(declared);
  if (8 + headerLength > bytes.length) {
    throw new WeightsError(file, `truncated safetensors file: header of ${headerLength} bytes but only ${bytes.length - 8} follow`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch (cause) {
    throw new WeightsError(file, `safetensors header is not valid JSON (${(cause as Error).message})`, { cause });
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new WeightsError(file, 'safetensors header is not a JSON object');
  }

  const entries: HeaderEntry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === METADATA_KEY) continue;
    const { dtype, shape, data_offsets: offsets } = (value ?? {}) as Record<string, unknown>;
    const mapped = typeof dtype === 'string' ? SAFETENSORS_DTYPES[dtype] : undefined;
    if (!mapped) throw new WeightsError(file, `tensor ${name} has unsupported dtype ${JSON.stringify(dtype)}`);
    if (!isIndexList(shape)) throw new WeightsError(file, `tensor ${name} has malformed shape ${JSON.stringify(shape)}`);
    if (!isIndexList(offsets) || offsets.length !== 2 || offsets[0] > offsets[1]) {
      throw new WeightsError(file, `tensor ${name} has malformed data_offsets ${JSON.stringify(offsets)}`);
    }
    entries.push({ name, dtype: mapped, shape, begin: offsets[0], end: offsets[1] });
  }
  return { entries, dataStart: 8 + headerLength };
}

function checkTiling(entries: HeaderEntry[], dataLength: number, file: string): void {
  for (const e of entries) {
    const needed = elementCount(e.shape) * DTYPES[e.dtype].itemSize;
    if (e.end - e.begin !== needed) {
      throw new WeightsError(
        file,
        `tensor ${e.name}: data_offsets [${e.begin}, ${e.end}] span ${e.end - e.begin} bytes but shape [${e.shape}] of ${e.dtype} needs ${needed}`,
      );
    }
    if (e.end > dataLength) {
      throw new WeightsError(file, `tensor ${e.name}: data_offsets [${e.begin}, ${e.end}] run past the data (${dataLength} bytes; truncated?)`);
    }
  }
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const e of sorted) {
    if (e.begin !== covered) {
      const what = e.begin < covered ? 'overlaps the tensor before it' : `leaves a gap after byte ${covered}`;
      throw new WeightsError(file, `tensor ${e.name}: data_offsets [${e.begin}, ${e.end}] ${what}`);
    }
    covered = e.end;
  }
  if (covered !== dataLength) {
    throw new WeightsError(file, `safetensors data is ${dataLength} bytes but the header accounts for ${covered}`);
  }
}

/**
 * The tensors of a safetensors file, in header order, checked but not yet converted.
 * Throws WeightsError (naming `file`) for anything malformed.
 */
export function safetensorsTensors(bytes: Uint8Array, file: string = UNNAMED_SOURCE): Map<string, StoredTensor> {
  const { entries, dataStart } = parseHeader(bytes, file);
  const data = bytes.subarray(dataStart);
  checkTiling(entries, data.length, file);
  const tensors = new Map<string, StoredTensor>();
  for (const e of entries) {
    const layout = { shape: e.shape, stride: rowMajorStrides(e.shape), offset: 0 };
    tensors.set(e.name, new StoredTensor(e.shape, e.dtype, () => gatherAsFloat32(data.subarray(e.begin, e.end), e.dtype, layout)));
  }
  return tensors;
}

/**
 * Parse a safetensors file into a StateDict (float32, row-major), in header order.
 * Throws WeightsError (naming `file`) for anything malformed.
 */
export function readSafetensors(bytes: Uint8Array, file: string = UNNAMED_SOURCE): StateDict {
  const stateDict: StateDict = new Map();
  for (const [name, tensor] of safetensorsTensors(bytes, file)) stateDict.set(name, { shape: tensor.shape, data: tensor.read(name) });
  return stateDict;
}
