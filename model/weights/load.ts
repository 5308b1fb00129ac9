/** Read a state dict from a .pth (torch zip) or .safetensors file, whatever its extension says. */
import { readFile } from 'node:fs/promises';
import { WeightsError } from './errors.js';
import { isLegacyTorchFile, readPth } from './pth.js';
import { readSafetensors, safetensorsHeaderLength } from './safetensors.js';
import type { StateDict } from './state-dict.js';
import { looksLikeZip } from './zip.js';

export type WeightsFormat = 'pth' | 'safetensors';

/** The format `bytes` are in, judged by magic bytes; null when neither. */
export function sniffWeightsFormat(bytes: Uint8Array): WeightsFormat | null {
  if (looksLikeZip(bytes) || isLegacyTorchFile(bytes)) return 'pth';
  if (safetensorsHeaderLength(bytes) !== null) return 'safetensors';
  return null;
}

const READERS: Record<WeightsFormat, (bytes: Uint8Array, file: string) => StateDict> = {
  pth: readPth,
  safetensors: readSafetensors,
};

/** Parse weights from memory; `nameForErrors` (a path or URL) appears in every WeightsError message. */
export function readStateDict(bytes: Uint8Array, nameForErrors: string): StateDict {
  if (bytes.length === 0) throw new WeightsError(nameForErrors, 'empty file');
  const format = sniffWeightsFormat(bytes);
  if (!format) {
    const head = Buffer.from(bytes.subarray(0, 8)).toString('hex');
    throw new WeightsError(nameForErrors, `neither a torch checkpoint (zip) nor a safetensors file (starts with 0x${head})`);
  }
  return READERS[format](bytes, nameForErrors);
}

export async function readStateDictFile(path: string): Promise<StateDict> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const problem = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory' : (cause as Error).message;
    throw new WeightsError(path, problem, { cause });
  }
  return readStateDict(bytes, path);
}
