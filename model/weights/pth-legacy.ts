/**
 * Reader for torch's legacy serialisation (torch < 1.6, and `torch.save(..., _use_new_zipfile_serialization=False)`
 * since), as torch/serialization.py `_legacy_load` reads it: five things one after the other in one file —
 * pickles of the magic number, the protocol version (1001) and a sys_info dict (byte order), the pickle of the
 * object (tensors as persistent ids `('storage', type, key, location, numel, view_metadata)`), the pickle of the
 * storage keys in file order; then for each key an int64 element count and that many elements' raw bytes.
 */
import { DTYPES } from './dtypes.js';
import { WeightsError } from './errors.js';
import { selectStateDict, type Checkpoint, type SelectOptions } from './checkpoint.js';
import { PyDict, unpickleAt } from './pickle.js';
import { unpickleTorch, type StorageRef, type TorchStorages } from './torch-pickle.js';

/** First bytes of the legacy format: PROTO 2, then LONG1 with torch's magic number 0x1950a86a20f9469cfc6c. */
const LEGACY_MAGIC = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
const LEGACY_PROTOCOL_VERSION = 1001;
/** Each storage record starts with its element count as a little-endian int64. */
const COUNT_BYTES = 8;

export function isLegacyTorchFile(bytes: Uint8Array): boolean {
  return bytes.length >= LEGACY_MAGIC.length && LEGACY_MAGIC.every((b, i) => bytes[i] === b);
}

/** The small pickles around the object's carry no tensors. */
const plain = {
  persistentLoad: (): never => {
    throw new Error('a persistent id outside the object pickle');
  },
};

/** Each storage's bytes, from the records after the pickles (in the order of `keys`). */
function locateStorages(bytes: Uint8Array, start: number, keys: string[], known: Map<string, StorageRef>, file: string): Map<string, Uint8Array> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const located = new Map<string, Uint8Array>();
  let pos = start;
  for (const key of keys) {
    const storage = known.get(key);
    if (!storage) throw new WeightsError(file, `legacy checkpoint lists storage ${key}, which no tensor uses`);
    const itemSize = storage.dtype ? DTYPES[storage.dtype].itemSize : 1;
    if (pos + COUNT_BYTES > bytes.length) throw new WeightsError(file, `truncated legacy checkpoint: storage ${key} is missing (at byte ${pos})`);
    const count = view.getBigInt64(pos, true);
    const end = BigInt(pos + COUNT_BYTES) + count * BigInt(itemSize);
    if (count < 0n || end > BigInt(bytes.length)) {
      throw new WeightsError(file, `truncated legacy checkpoint: storage ${key} declares ${count} elements, past the end of the file`);
    }
    located.set(key, bytes.subarray(pos + COUNT_BYTES, Number(end)));
    pos = Number(end);
  }
  return located;
}

/** Read a legacy-format torch.save file up to its chosen state dict. Throws WeightsError naming `file`. */
export function readLegacyPth(bytes: Uint8Array, file: string, opts: SelectOptions = {}): Checkpoint {
  const magic = unpickleAt(bytes, 0, file, plain); // its value is checked by isLegacyTorchFile
  const version = unpickleAt(bytes, magic.end, file, plain);
  if (version.value !== LEGACY_PROTOCOL_VERSION) {
    throw new WeightsError(file, `legacy checkpoint of protocol version ${String(version.value)}, expected ${LEGACY_PROTOCOL_VERSION}`);
  }
  const sysInfo = unpickleAt(bytes, version.end, file, plain);
  const littleEndian = sysInfo.value instanceof PyDict ? sysInfo.value.items.get('little_endian') !== false : true;

  // Tensors read their storage lazily, after the records below have been located.
  let data = new Map<string, Uint8Array>();
  const storages: TorchStorages = {
    littleEndian,
    bytesOf(storage: StorageRef, name: string): Uint8Array {
      const found = data.get(storage.key);
      if (!found) throw new WeightsError(file, `tensor ${name}: storage ${storage.key} is not in the file`);
      return found;
    },
  };
  const object = unpickleTorch(bytes, sysInfo.end, file, storages);
  const keys = unpickleAt(bytes, object.end, file, plain);
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string')) {
    throw new WeightsError(file, 'legacy checkpoint: the storage key list is not a list of strings');
  }
  data = locateStorages(bytes, keys.end, keys.value as string[], object.storages, file);
  return selectStateDict(object.value, file, 'legacy', opts);
}
