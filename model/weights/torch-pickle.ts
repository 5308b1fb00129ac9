/**
 * What torch.save's pickle means, shared by the zip format (torch ≥ 1.6) and the legacy format: persistent ids name
 * storages, torch._utils' rebuild functions make tensors of them. Storages are only located here; their bytes are
 * fetched through the caller's `TorchStorages` when a tensor is read, so unused tensors (optimizer state) cost nothing.
 * Nothing is executed: unknown callables stay inert objects (pickle.ts).
 */
import { DTYPES, gatherAsFloat32, lastElementIndex, type DType, type StridedLayout } from './dtypes.js';
import { WeightsError } from './errors.js';
import { describePickled, PyGlobal, unpickleAt } from './pickle.js';
import { StoredTensor } from './stored-tensor.js';

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

/** One storage of the checkpoint: `key` names its record (zip) or its place in the storage list (legacy). */
export class StorageRef {
  readonly key: string;
  readonly typeName: string;
  readonly dtype: DType | null;
  /** Elements of the storage, as the persistent id declares them (legacy files check the record against it). */
  readonly numel: number | null;
  constructor(key: string, typeName: string, dtype: DType | null, numel: number | null) {
    this.key = key;
    this.typeName = typeName;
    this.dtype = dtype;
    this.numel = numel;
  }
}

/** A legacy storage view: elements `offset`.. of its root storage `root` (view_metadata). */
class StorageView {
  readonly root: StorageRef;
  readonly offset: number;
  constructor(root: StorageRef, offset: number) {
    this.root = root;
    this.offset = offset;
  }
}

/** Where the bytes of the storages are: the zip's records, or the legacy file's tail. */
export interface TorchStorages {
  /** The raw bytes of a storage; `tensorName` for error messages. Throws WeightsError. */
  bytesOf(storage: StorageRef, tensorName: string): Uint8Array;
  littleEndian: boolean;
}

function isIndexList(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((v) => Number.isSafeInteger(v) && (v as number) >= 0);
}

type Rebuild = (args: unknown[], call: (fn: unknown, args: unknown[]) => unknown) => unknown;

function makeRebuilds(file: string, storages: TorchStorages): Record<string, Rebuild> {
  const fail = (problem: string): never => {
    throw new WeightsError(file, problem);
  };
  const tensor = (storage: unknown, offset: unknown, size: unknown, stride: unknown, dtype: DType | null): StoredTensor => {
    const root = storage instanceof StorageView ? storage.root : storage;
    if (!(root instanceof StorageRef)) return fail(`tensor record holds a ${describePickled(storage)} where a storage belongs`);
    if (!Number.isSafeInteger(offset) || (offset as number) < 0) return fail(`tensor record has storage offset ${String(offset)}`);
    if (!isIndexList(size) || !isIndexList(stride) || size.length !== stride.length) {
      return fail(`tensor record has malformed size ${JSON.stringify(size)} / stride ${JSON.stringify(stride)}`);
    }
    const elementType = dtype ?? root.dtype ?? fail(`tensor record on a ${root.typeName} without a dtype (storage ${root.key})`);
    const viewOffset = storage instanceof StorageView ? storage.offset : 0;
    const layout: StridedLayout = { shape: [...size], stride: [...stride], offset: (offset as number) + viewOffset };
    return new StoredTensor(layout.shape, elementType, (name) => {
      const bytes = storages.bytesOf(root, name);
      const available = Math.floor(bytes.length / DTYPES[elementType].itemSize);
      const last = lastElementIndex(layout);
      if (last >= available) {
        throw new WeightsError(
          file,
          `tensor ${name} (shape [${layout.shape}], stride [${layout.stride}], offset ${layout.offset}) ` +
            `reads element ${last} of storage ${root.key}, which holds ${available} ${elementType} values`,
        );
      }
      return gatherAsFloat32(bytes, elementType, layout, storages.littleEndian);
    });
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

function persistentLoader(file: string, storages: Map<string, StorageRef>): (pid: unknown) => unknown {
  const views = new Map<string, StorageView>();
  return (pid) => {
    // Legacy files also pickle ('module', class, source_file, source) for whole modules: the class stands for it.
    if (Array.isArray(pid) && pid[0] === 'module') return pid[1];
    // ('storage', storage_type, key, location, numel[, view_metadata]); view_metadata only in legacy files.
    if (!Array.isArray(pid) || pid[0] !== 'storage' || !(pid[1] instanceof PyGlobal) || typeof pid[2] !== 'string') {
      throw new WeightsError(file, `unexpected persistent id ${describePickled(pid)} (not a torch storage)`);
    }
    const [, type, key, , numel, view] = pid as [string, PyGlobal, string, unknown, unknown, unknown];
    let storage = storages.get(key);
    if (!storage) {
      const dtype = type.module === 'torch' ? STORAGE_DTYPES[type.name] ?? null : null;
      if (dtype === null && !UNTYPED_STORAGES.has(type.qualifiedName)) {
        throw new WeightsError(file, `unsupported storage type ${type.qualifiedName} (storage ${key})`);
      }
      storage = new StorageRef(key, type.qualifiedName, dtype, Number.isSafeInteger(numel) ? (numel as number) : null);
      storages.set(key, storage);
    }
    if (view === undefined || view === null) return storage;
    // (view_key, offset, view_size), in elements of the root storage.
    if (!Array.isArray(view) || typeof view[0] !== 'string' || !isIndexList([view[1], view[2]])) {
      throw new WeightsError(file, `storage ${key} has malformed view metadata ${describePickled(view)}`);
    }
    let known = views.get(view[0]);
    if (!known) views.set(view[0], (known = new StorageView(storage, view[1] as number)));
    return known;
  };
}

/**
 * Run torch's pickle at byte `start` of `bytes`: tensors become StoredTensors reading from `storages`.
 * Returns the unpickled object, the byte after the pickle and the storages it refers to by key.
 * Throws WeightsError naming `file`.
 */
export function unpickleTorch(
  bytes: Uint8Array,
  start: number,
  file: string,
  storages: TorchStorages,
): { value: unknown; end: number; storages: Map<string, StorageRef> } {
  const rebuilds = makeRebuilds(file, storages);
  const seen = new Map<string, StorageRef>();
  const { value, end } = unpickleAt(bytes, start, file, {
    persistentLoad: persistentLoader(file, seen),
    callGlobal: (fn, args, call) => rebuilds[fn.qualifiedName]?.(args, call),
  });
  return { value, end, storages: seen };
}
