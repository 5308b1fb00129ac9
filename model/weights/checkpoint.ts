/**
 * From what a weights file holds to the state dict to load: a bare state dict, or one inside a training checkpoint
 * (torchvision's reference scripts save `{"model", "optimizer", "lr_scheduler", "epoch", "args", "scaler"?,
 * "model_ema"?}`), with DataParallel's / DistributedDataParallel's `module.` prefix removed and AveragedModel's
 * `n_averaged` counter (torchvision's EMA) dropped.
 */
import { WeightsError } from './errors.js';
import { describePickled, PyDict, PyObject } from './pickle.js';
import type { StateDict } from './state-dict.js';
import { StoredTensor } from './stored-tensor.js';

export type CheckpointFormat = 'zip' | 'legacy' | 'safetensors';

/** A weights file read up to its chosen state dict; tensor data is converted only by `materialiseStateDict`. */
export interface Checkpoint {
  format: CheckpointFormat;
  /** The chosen state dict's tensors, keys as torchvision names them (prefix removed), in file order. */
  tensors: Map<string, StoredTensor>;
  /** Top-level keys of a training checkpoint (e.g. model, optimizer, epoch); empty for a bare state dict. */
  wrapperKeys: string[];
  /** Path of the entry holding the state dict (e.g. `model`, `model_ema`), null for a bare state dict. */
  selectedKey: string | null;
  /** `module.` when every key carried the prefix DataParallel, DDP and AveragedModel add; else null. */
  strippedPrefix: string | null;
  /** Entries left out: AveragedModel's `n_averaged` counter. */
  droppedKeys: string[];
}

/** Entries under which training checkpoints nest the model's state dict, tried in this order. */
export const WRAPPER_KEYS = ['state_dict', 'model', 'model_state_dict'];
/** Nesting deeper than this is not a checkpoint layout anyone writes. */
const MAX_WRAPPER_DEPTH = 3;
const MODULE_PREFIX = 'module.';
/** AveragedModel's buffer counting the averaged steps: not a parameter of the model. */
const N_AVERAGED = 'n_averaged';

export interface SelectOptions {
  /** The wrapper entry to load (`model_ema`); default: the first of WRAPPER_KEYS present. */
  weightsKey?: string;
}

function isStateDict(value: unknown): boolean {
  return value instanceof PyDict && [...value.items.values()].every((v) => v instanceof StoredTensor);
}

function keysOf(dict: PyDict): string[] {
  return [...dict.items.keys()].map(String);
}

function describeRoot(root: unknown, file: string): never {
  if (root instanceof StoredTensor) throw new WeightsError(file, 'holds a single tensor, not a state dict');
  if (root instanceof PyObject) {
    throw new WeightsError(file, `holds a pickled ${describePickled(root)}, not a state dict; save model.state_dict() instead`);
  }
  throw new WeightsError(file, `holds a ${describePickled(root)}, not a state dict`);
}

/** The wrapper entry to load and its path, following WRAPPER_KEYS, from the one `weightsKey` names if given. */
function unwrap(root: PyDict, file: string, weightsKey: string | undefined): { dict: PyDict; path: string | null } {
  let dict = root;
  const path: string[] = [];
  if (weightsKey !== undefined) {
    if (isStateDict(root)) {
      throw new WeightsError(file, `weights key "${weightsKey}" was asked for, but the file is a bare state dict with no wrapper entries`);
    }
    const inner = root.items.get(weightsKey);
    if (inner === undefined) {
      throw new WeightsError(file, `has no "${weightsKey}" entry to load (entries: ${keysOf(root).join(', ')})`);
    }
    if (!(inner instanceof PyDict)) throw new WeightsError(file, `entry "${weightsKey}" holds a ${describePickled(inner)}, not a state dict`);
    dict = inner;
    path.push(weightsKey);
  }
  for (let depth = 0; !isStateDict(dict); depth++) {
    const current = dict;
    const key = depth < MAX_WRAPPER_DEPTH ? WRAPPER_KEYS.find((k) => current.items.get(k) instanceof PyDict) : undefined;
    if (key === undefined) {
      const offender = [...dict.items].find(([, value]) => !(value instanceof StoredTensor))!;
      throw new WeightsError(
        file,
        `not a state dict: entry ${JSON.stringify(String(offender[0]))} holds a ${describePickled(offender[1])}, ` +
          `and no ${WRAPPER_KEYS.map((k) => `"${k}"`).join('/')} entry wraps one`,
      );
    }
    path.push(key);
    dict = dict.items.get(key) as PyDict;
  }
  return { dict, path: path.length > 0 ? path.join('.') : null };
}

/**
 * Choose the state dict in `root` (the unpickled object, or a safetensors file's tensor map as a PyDict) and
 * normalise its keys. Throws WeightsError naming `file` when there is none, or `weightsKey` names none.
 */
export function selectStateDict(root: unknown, file: string, format: CheckpointFormat, opts: SelectOptions = {}): Checkpoint {
  if (!(root instanceof PyDict)) describeRoot(root, file);
  const { dict, path } = unwrap(root, file, opts.weightsKey);
  const wrapperKeys = path === null ? [] : keysOf(root);
  const names = keysOf(dict);
  const prefixed = names.filter((name) => name !== N_AVERAGED);
  const strip = prefixed.length > 0 && prefixed.every((name) => name.startsWith(MODULE_PREFIX));
  const tensors = new Map<string, StoredTensor>();
  const droppedKeys: string[] = [];
  for (const [key, tensor] of dict.items) {
    const name = String(key);
    if (strip && name === N_AVERAGED) {
      droppedKeys.push(name);
      continue;
    }
    tensors.set(strip ? name.slice(MODULE_PREFIX.length) : name, tensor as StoredTensor);
  }
  return { format, tensors, wrapperKeys, selectedKey: path, strippedPrefix: strip ? MODULE_PREFIX : null, droppedKeys };
}

/** Every chosen tensor as float32, row-major. Throws WeightsError for a tensor its storage cannot hold. */
export function materialiseStateDict(checkpoint: Checkpoint): StateDict {
  const stateDict: StateDict = new Map();
  for (const [name, tensor] of checkpoint.tensors) stateDict.set(name, { shape: tensor.shape, data: tensor.read(name) });
  return stateDict;
}
