/**
 * Reader for PyTorch's zip checkpoints (torch.save since 1.6): `<prefix>/data.pkl` pickles the object with
 * tensors as persistent ids pointing at raw storages `<prefix>/data/<key>`; `<prefix>/byteorder`, when
 * present, says how those storages are laid out. Nothing Python is executed: the pickle runs on a tiny VM
 * that knows torch's tensor-rebuilding functions (torch-pickle.ts).
 */
import { materialiseStateDict, selectStateDict, type Checkpoint, type SelectOptions } from './checkpoint.js';
import { UNNAMED_SOURCE, WeightsError } from './errors.js';
import { isLegacyTorchFile, readLegacyPth } from './pth-legacy.js';
import type { StateDict } from './state-dict.js';
import { unpickleTorch, type StorageRef, type TorchStorages } from './torch-pickle.js';
import { looksLikeZip, readZipDirectory, readZipEntry, type ZipEntry } from './zip.js';

export { isLegacyTorchFile } from './pth-legacy.js';

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

/** True for a TorchScript archive (torch.jit.save): a zip with `<prefix>/constants.pkl` next to data.pkl. */
export function isTorchScriptArchive(bytes: Uint8Array, file: string): boolean {
  if (!looksLikeZip(bytes)) return false;
  const names = [...readZipDirectory(bytes, file).keys()];
  return names.some((name) => /^[^/]+\/constants\.pkl$/.test(name));
}

function byteOrderOf(entries: Map<string, ZipEntry>, bytes: Uint8Array, prefix: string, file: string): boolean {
  const entry = entries.get(`${prefix}/byteorder`);
  if (!entry) return true;
  const order = new TextDecoder().decode(readZipEntry(bytes, entry, file)).trim();
  const littleEndian: Record<string, boolean> = { little: true, big: false };
  if (!(order in littleEndian)) throw new WeightsError(file, `unknown byteorder record ${JSON.stringify(order)}`);
  return littleEndian[order];
}

/** Convert anything but a WeightsError (a reader bug on odd input) into one, so callers see one kind of failure. */
export function asWeightsError<T>(file: string, what: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof WeightsError) throw error;
    throw new WeightsError(file, `corrupt ${what} (${(error as Error).message})`, { cause: error });
  }
}

/**
 * A torch.save file (zip, or the legacy format) up to its chosen state dict: see checkpoint.ts for wrappers and
 * prefixes. Throws WeightsError (naming `file`) for anything it cannot read.
 */
export function readPthCheckpoint(bytes: Uint8Array, file: string = UNNAMED_SOURCE, opts: SelectOptions = {}): Checkpoint {
  return asWeightsError(file, 'torch checkpoint', () => {
    if (bytes.length === 0) throw new WeightsError(file, 'empty file');
    if (isLegacyTorchFile(bytes)) return readLegacyPth(bytes, file, opts);
    if (!looksLikeZip(bytes)) throw new WeightsError(file, 'not a zip archive, so not a torch.save checkpoint');

    const entries = readZipDirectory(bytes, file);
    const prefix = findPrefix(entries, file);
    const storageBytes = new Map<string, Uint8Array>();
    const storages: TorchStorages = {
      littleEndian: byteOrderOf(entries, bytes, prefix, file),
      bytesOf(storage: StorageRef, name: string): Uint8Array {
        let data = storageBytes.get(storage.key);
        if (!data) {
          const entry = entries.get(`${prefix}/data/${storage.key}`);
          if (!entry) throw new WeightsError(file, `tensor ${name}: storage record ${prefix}/data/${storage.key} is missing`);
          data = readZipEntry(bytes, entry, file);
          storageBytes.set(storage.key, data);
        }
        return data;
      },
    };
    const { value } = unpickleTorch(readZipEntry(bytes, entries.get(`${prefix}/data.pkl`)!, file), 0, file, storages);
    return selectStateDict(value, file, 'zip', opts);
  });
}

/**
 * Parse a torch.save checkpoint (zip or legacy) into a StateDict (float32, row-major; strides and offsets applied).
 * A dict wrapping the state dict under `state_dict`, `model` or `model_state_dict` is unwrapped, a `module.` prefix
 * removed. Throws WeightsError (naming `file`) for anything it cannot read.
 */
export function readPth(bytes: Uint8Array, file: string = UNNAMED_SOURCE, opts: SelectOptions = {}): StateDict {
  const checkpoint = readPthCheckpoint(bytes, file, opts);
  return asWeightsError(file, 'torch checkpoint', () => materialiseStateDict(checkpoint));
}
