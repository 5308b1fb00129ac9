/**
 * Reader for PyTorch's zip checkpoints (torch.save since 1.6): `<prefix>/data.pkl` pickles the object with
 * tensors as persistent ids pointing at raw storages `<prefix>/data/<key>`; `<prefix>/byteorder`, when
 * present, says how those storages are laid out. Nothing Python is executed: the pickle runs on a tiny VM
 * that knows torch's tensor-rebuilding functions.
 */
import { DTYPES, gatherAsFloat32, lastElementIndex, type DType, type StridedLayout } from './dtypes.js';
import { UNNAMED_SOURCE, WeightsError } from './errors.js';
import { describePickled, PyDict, PyGlobal, PyObject, unpickle } from './pickle.js';
import type { StateDict } from './state-dict.js';
import { looksLikeZip, readZipDirectory, readZipEntry, type ZipEntry } from './zip.js';

/** Typed storage classes by name (module `torch`), as pickled in the storage persistent id. */
const STORAGE_DTYPES: Record<string, DType> = {
  DoubleStorage: 'float64',
  FloatStorage: 'float32',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

/** Untyped storages (torch ≥ 2 for dtypes without a typed storage) get their dtype from _rebuild_tensor_v3. */
const UNTYPED_STORAGES = new Set(['torch.UntypedStorage', 'torch.storage.UntypedStorage', 'torch.storage._UntypedStorage']);

/** `torch.<dtype>` globals (e.g. the dtype argument of _rebuild_tensor_v3), aliases included. */
const TORCH_DTYPES: Record<string, DType> = {
  float64: 'float64', double: 'float64',
  float32: 'float32', float: 'float32',
  float16: 'float16', half: 'float16',
  bfloat16: 'bfloat16',
  int64: 'int64', long: 'int64',
  int32: 'int32', int: 'int32',
  int16: 'int16', short: 'int16',
  int8: 'int8',
  uint8: 'uint8',
  bool: 'bool',
};

/** Keys under which training checkpoints commonly nest the state dict. */
const WRAPPER_KEYS = ['state_dict', 'model', 'model_state_dict'];

/** First bytes of the pre-1.6 format: PROTO 2, then LONG1 with torch's magic number 0x1950a86a20f9469cfc6c. */
const LEGACY_MAGIC = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

class StorageRef {
  readonly key: string;
  readonly typeName: string;
  readonly dtype: DType | null;
  constructor(
    key: string,
    typeName: string,
    dtype: DType | null,
  ) {
    this.key = key;
    this.typeName = typeName;
    this.dtype = dtype;
  }
}

class TensorRef {
  readonly storage: StorageRef;
  readonly dtype: DType | null;
  readonly layout: StridedLayout;
  constructor(
    storage: StorageRef,
    dtype: DType | null,
    layout: StridedLayout,
  ) {
    this.storage = storage;
    this.dtype = dtype;
    this.layout = layout;
  }
}

type Rebuild = (args: unknown[], call: (fn: unknown, args: unknown[]) => unknown) => unknown;

export function isLegacyTorchFile(bytes: Uint8Array): boolean {
  return bytes.length >= LEGACY_MAGIC.length && LEGACY_MAGIC.every((b, i) => bytes[i] === b);
}

function isIndexList(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((v) => Number.isSafeInteger(v) && (v as number) >= 0);
}

function makeRebuilds(file: string): Record<string, Rebuild> {
  const fail = (problem: string): never => {
    throw new WeightsError(file, problem);
  };
  const tensor = (storage: unknown, offset: unknown, size: unknown, stride: unknown, dtype: DType | null): TensorRef => {
    if (!(storage instanceof StorageRef)) return fail(`tensor record holds a ${describePickled(storage)} where a storage belongs`);
    if (!Number.isSafeInteger(offset) || (offset as number) < 0) return fail(`tensor record has storage offset ${String(offset)}`);
    if (!isIndexList(size) || !isIndexList(stride) || size.length !== stride.length) {
      return fail(`tensor record has malformed size ${JSON.stringify(size)} / stride ${JSON.stringify(stride)}`);
    }
    return new TensorRef(storage, dtype, { shape: [...size], stride: [...stride], offset: offset as number });
  };
  const dtypeOf = (value: unknown): DType => {
    const dtype = value instanceof PyGlobal && value.module === 'torch' ? TORCH_DTYPES[value.name] : undefined;
    return dtype ?? fail(`tensor record has unsupported dtype ${value instanceof PyGlobal ? value.qualifiedName : describePickled(value)}`);
  };
  return {
    // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
    'torch._utils._rebuild_tensor_v2': (a) => tensor(a[0], a[1], a[2], a[3], null),
    // (storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype[, metadata])
    'torch._utils._rebuild_tensor_v3': (a) => tensor(a[0], a[1], a[2], a[3], dtypeOf(a[6])),
    'torch._utils._rebuild_tensor': (a) => tensor(a[0], a[1], a[2], a[3], null),
    // nn.Parameter wraps a tensor: (data, requires_grad, backward_hooks[, state])
    'torch._utils._rebuild_parameter': (a) => a[0],
    'torch._utils._rebuild_parameter_with_state': (a) => a[0],
    // Tensor subclasses: (func, new_type, args, state) → func(*args)
    'torch._tensor._rebuild_from_type_v2': (a, call) => call(a[0], Array.isArray(a[2]) ? a[2] : []),
    'torch._tensor._rebuild_from_type': (a, call) => call(a[0], Array.isArray(a[2]) ? a[2] : []),
  };
}

function persistentLoader(file: string): (pid: unknown) => StorageRef {
  const storages = new Map<string, StorageRef>();
  return (pid) => {
    // ('storage', storage_type, key, location, numel)
    if (!Array.isArray(pid) || pid[0] !== 'storage' || !(pid[1] instanceof PyGlobal) || typeof pid[2] !== 'string') {
      throw new WeightsError(file, `unexpected persistent id ${describePickled(pid)} (not a torch storage)`);
    }
    const [, type, key] = pid as [string, PyGlobal, string];
    const known = storages.get(key);
    if (known) return known;
    const dtype = type.module === 'torch' ? STORAGE_DTYPES[type.name] ?? null : null;
    if (dtype === null && !UNTYPED_STORAGES.has(type.qualifiedName)) {
      throw new WeightsError(file, `unsupported storage type ${type.qualifiedName} (storage ${key})`);
    }
    const storage = new StorageRef(key, type.qualifiedName, dtype);
    storages.set(key, storage);
    return storage;
  };
}

/** The `<prefix>` all of torch's records share: the directory holding data.pkl. */
function findPrefix(entries: Map<string, ZipEntry>, file: string): string {
  const candidates = [...entries.keys()].filter((name) => /^[^/]+\/data\.pkl$/.test(name));
  if (candidates.length === 0) {
    const listed = [...entries.keys()].slice(0, 5).join(', ') || 'no entries';
    throw new WeightsError(file, `not a torch checkpoint: zip archive has no <prefix>/data.pkl (found ${listed})`);
  }
  const prefix = candidates[0].slice(0, -'/data.pkl'.length);
  if (entries.has(`${prefix}/constants.pkl`)) {
    throw new WeightsError(file, 'is a TorchScript archive (torch.jit.save), not a state dict; save model.state_dict() with torch.save');
  }
  return prefix;
}

function byteOrderOf(entries: Map<string, ZipEntry>, bytes: Uint8Array, prefix: string, file: string): boolean {
  const entry = entries.get(`${prefix}/byteorder`);
  if (!entry) return true;
  const order = new TextDecoder().decode(readZipEntry(bytes, entry, file)).trim();
  const littleEndian: Record<string, boolean> = { little: true, big: false };
  if (!(order in littleEndian)) throw new WeightsError(file, `unknown byteorder record ${JSON.stringify(order)}`);
  return littleEndian[order];
}

/** Find the tensor mapping in the unpickled object: the state dict itself or one level of wrapping. */
function findTensorMapping(root: unknown, file: string): Map<unknown, unknown> {
  if (root instanceof TensorRef) throw new WeightsError(file, 'holds a single tensor, not a state dict');
  if (root instanceof PyObject) {
    throw new WeightsError(file, `holds a pickled ${describePickled(root)}, not a state dict; save model.state_dict() instead`);
  }
  if (!(root instanceof PyDict)) throw new WeightsError(file, `holds a ${describePickled(root)}, not a state dict`);
  const offender = [...root.items].find(([, value]) => !(value instanceof TensorRef));
  if (!offender) return root.items;
  for (const key of WRAPPER_KEYS) {
    const inner = root.items.get(key);
    if (inner instanceof PyDict) return findTensorMapping(inner, file);
  }
  throw new WeightsError(
    file,
    `not a state dict: entry ${JSON.stringify(String(offender[0]))} holds a ${describePickled(offender[1])}, ` +
      `and no ${WRAPPER_KEYS.map((k) => `"${k}"`).join('/')} entry wraps one`,
  );
}

/**
 * Parse a torch.save zip checkpoint into a StateDict (float32, row-major; strides and offsets applied).
 * A dict wrapping the state dict under `state_dict`, `model` or `model_state_dict` is unwrapped.
 * Throws WeightsError (naming `file`) for anything it cannot read.
 */
export function readPth(bytes: Uint8Array, file: string = UNNAMED_SOURCE): StateDict {
  try {
    return parsePth(bytes, file);
  } catch (error) {
    if (error instanceof WeightsError) throw error;
    throw new WeightsError(file, `corrupt torch checkpoint (${(error as Error).message})`, { cause: error });
  }
}

function parsePth(bytes: Uint8Array, file: string): StateDict {
  if (bytes.length === 0) throw new WeightsError(file, 'empty file');
  if (isLegacyTorchFile(bytes)) {
    throw new WeightsError(file, 'uses the legacy (pre-1.6) torch.save format; re-save it with a current torch (zip format)');
  }
  if (!looksLikeZip(bytes)) throw new WeightsError(file, 'not a zip archive, so not a torch.save checkpoint');

  const entries = readZipDirectory(bytes, file);
  const prefix = findPrefix(entries, file);
  const littleEndian = byteOrderOf(entries, bytes, prefix, file);
  const rebuilds = makeRebuilds(file);
  const root = unpickle(readZipEntry(bytes, entries.get(`${prefix}/data.pkl`)!, file), file, {
    persistentLoad: persistentLoader(file),
    callGlobal: (fn, args, call) => rebuilds[fn.qualifiedName]?.(args, call),
  });

  const storageBytes = new Map<string, Uint8Array>();
  const storageOf = (storage: StorageRef, name: string): Uint8Array => {
    let data = storageBytes.get(storage.key);
    if (!data) {
      const entry = entries.get(`${prefix}/data/${storage.key}`);
      if (!entry) throw new WeightsError(file, `tensor ${name}: storage record ${prefix}/data/${storage.key} is missing`);
      data = readZipEntry(bytes, entry, file);
      storageBytes.set(storage.key, data);
    }
    return data;
  };

  const stateDict: StateDict = new Map();
  for (const [key, ref] of findTensorMapping(root, file)) {
    const name = String(key);
    const tensor = ref as TensorRef;
    const dtype = tensor.dtype ?? tensor.storage.dtype;
    if (!dtype) throw new WeightsError(file, `tensor ${name}: ${tensor.storage.typeName} without a dtype`);
    const storage = storageOf(tensor.storage, name);
    const available = Math.floor(storage.length / DTYPES[dtype].itemSize);
    const last = lastElementIndex(tensor.layout);
    if (last >= available) {
      throw new WeightsError(
        file,
        `tensor ${name} (shape [${tensor.layout.shape}], stride [${tensor.layout.stride}], offset ${tensor.layout.offset}) ` +
          `reads element ${last} of storage ${tensor.storage.key}, which holds ${available} ${dtype} values`,
      );
    }
    stateDict.set(name, { shape: tensor.layout.shape, data: gatherAsFloat32(storage, dtype, tensor.layout, littleEndian) });
  }
  return stateDict;
}
