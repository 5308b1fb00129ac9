/** Read a state dict from a .pth (torch zip or legacy) or .safetensors file, whatever its extension says. */
import { readFile } from 'node:fs/promises';
import { materialiseStateDict, selectStateDict, type Checkpoint, type SelectOptions } from './checkpoint.js';
import { WeightsError } from './errors.js';
import { PyDict } from './pickle.js';
import { asWeightsError, isLegacyTorchFile, readPthCheckpoint } from './pth.js';
import { safetensorsHeaderLength, safetensorsTensors } from './safetensors.js';
import type { StateDict } from './state-dict.js';
import { looksLikeZip } from './zip.js';

export type WeightsFormat = 'pth' | 'safetensors';

/** The format `bytes` are in, judged by magic bytes; null when neither. */
export function sniffWeightsFormat(bytes: Uint8Array): WeightsFormat | null {
  if (looksLikeZip(bytes) || isLegacyTorchFile(bytes)) return 'pth';
  if (safetensorsHeaderLength(bytes) !== null) return 'safetensors';
  return null;
}

function readSafetensorsCheckpoint(bytes: Uint8Array, file: string, opts: SelectOptions): Checkpoint {
  const root = new PyDict();
  for (const [name, tensor] of safetensorsTensors(bytes, file)) root.items.set(name, tensor);
  return selectStateDict(root, file, 'safetensors', opts);
}

/**
 * A weights file in memory up to its chosen state dict (wrappers, `weightsKey` and prefixes: checkpoint.ts), tensor
 * data not yet converted. `nameForErrors` (a path or URL) appears in every WeightsError message.
 */
export function readCheckpoint(bytes: Uint8Array, nameForErrors: string, opts: SelectOptions = {}): Checkpoint {
  if (bytes.length === 0) throw new WeightsError(nameForErrors, 'empty file');
  const format = sniffWeightsFormat(bytes);
  if (!format) {
    const head = Buffer.from(bytes.subarray(0, 8)).toString('hex');
    throw new WeightsError(nameForErrors, `neither a torch checkpoint (zip) nor a safetensors file (starts with 0x${head})`);
  }
  return format === 'pth' ? readPthCheckpoint(bytes, nameForErrors, opts) : readSafetensorsCheckpoint(bytes, nameForErrors, opts);
}

/** Parse weights from memory into float32 tensors; `nameForErrors` (a path or URL) appears in every WeightsError message. */
export function readStateDict(bytes: Uint8Array, nameForErrors: string, opts: SelectOptions = {}): StateDict {
  const checkpoint = readCheckpoint(bytes, nameForErrors, opts);
  return asWeightsError(nameForErrors, 'weights file', () => materialiseStateDict(checkpoint));
}

/** The file's bytes; a missing path or a directory is a WeightsError naming it. */
export async function readWeightsFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const problem = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory' : (cause as Error).message;
    throw new WeightsError(path, problem, { cause });
  }
}

export async function readStateDictFile(path: string, opts: SelectOptions = {}): Promise<StateDict> {
  return readStateDict(await readWeightsFile(path), path, opts);
}
