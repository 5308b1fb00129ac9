/**
 * The model repository: which models the service runs, from a YAML/JSON file (`--models`, CITYSEG_MODELS) or, without
 * one, from the single-model settings. Every field is read by the parser of the setting or inference-mode option of
 * the same name, so a value means the same in the file, on the command line and in a request.
 */
import { readFile, stat } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { ARCHITECTURES, ARCH_NAMES, isArchName } from '../model/architectures.js';
import type { EngineName } from '../model/engines/engine.js';
import type { ArchName, ModelTask } from '../model/loaded-model.js';
import { findPreset, isPresetName, activePresets } from '../model/weights/presets.js';
import { NO_WEIGHTS } from '../model/weights/weights-choice.js';
import { InvalidArgumentError } from '../segmentation/errors.js';
import { DEFAULT_INFERENCE_MODE, inferenceModeFromText, type InferenceModeOptions } from '../segmentation/inference-modes/index.js';
import type { InferenceSize } from '../segmentation/preprocess.js';
import { precisionProblem, type Precision } from '../model/quantize/precision-options.js';
import { ConfigError, parseSetting, type ServerConfig } from './config.js';
import { ModelsFileError } from './models-file-error.js';

/** A request's inference mode when it sets none of mode, crop, stride, scales, flip. */
export type ModeDefaults = Omit<InferenceModeOptions, 'maxForwardPasses'>;

const { mode, crop, stride, scales, flip } = DEFAULT_INFERENCE_MODE;
/** Today's single whole pass. */
export const DEFAULT_MODE_DEFAULTS: ModeDefaults = { mode, crop, stride, scales, flip };

/** One model of the repository, every field validated and defaulted. */
export interface ModelEntry {
  /** `?model=` and /v1/models/{name}; absent only for the settings' models (named by their arch once loaded). */
  name?: string;
  /** From the arch, else the preset; absent while only the checkpoint can tell (known once loaded). */
  task?: ModelTask;
  arch?: ArchName;
  /** Path, URL, `torchvision:` preset or `none` (the seeded init); absent → the arch's default preset (settings only). */
  weights?: string;
  weightsKey?: string;
  labels?: string;
  numClasses?: number;
  inferenceSize: InferenceSize;
  engine: EngineName | 'auto';
  threads: number;
  /** Worker threads of this model's own pool; 0 = the main thread. */
  workers: number;
  maxBatch: number;
  /** fp32, or int8 with its `cityseg quantize` file (ONNX engine): README "INT8 (opt-in)". */
  precision: Precision;
  quantization?: string;
  /** The task's default model (else the task's first). */
  default: boolean;
  modeDefaults: ModeDefaults;
}

export { ModelsFileError };

/**
 * Most models one file may list: each loads its own engine and worker threads (about 50 MB and 2 threads apiece,
 * measured), and loading is not admitted against the memory budget, so a runaway file must be refused up front.
 */
export const MAX_MODELS = 32;

/** Largest models file read (a file of 32 entries is a few kilobytes). */
export const MAX_MODELS_FILE_BYTES = 1024 * 1024;

/** Letters, digits and `-._~` (RFC 3986 unreserved), starting with a letter or digit: safe in a URL path unescaped. */
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._~-]{0,63}$/;

const ENTRY_KEYS = [
  'name', 'arch', 'weights', 'weightsKey', 'labels', 'numClasses', 'inferenceSize', 'engine', 'threads', 'workers', 'maxBatch',
  'precision', 'quantization', 'default',
  'mode', 'crop', 'stride', 'scales', 'flip',
] as const;
type EntryKey = (typeof ENTRY_KEYS)[number];

/** Keys that restate a setting: read by that setting's parser (server/config.ts SETTINGS). */
const SETTING_KEYS = [
  'weights', 'weightsKey', 'labels', 'numClasses', 'inferenceSize', 'engine', 'threads', 'workers', 'maxBatch', 'precision', 'quantization',
] as const;

/** Scalars as the settings' parsers take them (the file may give numbers; lists are comma-joined like the flags). */
function text(value: unknown): string {
  if (Array.isArray(value)) return value.map(String).join(',');
  return String(value);
}

function flag(value: unknown, key: string): boolean {
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new InvalidArgumentError(`${key}: expected true or false, got '${text(value)}'`);
}

/** The task an entry serves when it can be told before loading: its arch's, else its preset's. */
function taskOf(arch: ArchName | undefined, weights: string | undefined): ModelTask | undefined {
  if (arch) return ARCHITECTURES[arch].task;
  if (weights === undefined || weights === NO_WEIGHTS) return 'segmentation';
  if (isPresetName(weights)) return ARCHITECTURES[findPreset(weights, activePresets()).arch].task;
  return undefined;
}

/** One raw entry as a ModelEntry; throws a one-line message (without the file) naming the key. */
function readEntry(raw: Record<string, unknown>, config: ServerConfig): ModelEntry {
  const unknown = Object.keys(raw).find((key) => !(ENTRY_KEYS as readonly string[]).includes(key));
  if (unknown !== undefined) throw new InvalidArgumentError(`unknown key "${unknown}" (known: ${ENTRY_KEYS.join(', ')})`);
  const given = (key: EntryKey) => raw[key] !== undefined && raw[key] !== null;
  const settings: Partial<Pick<ServerConfig, (typeof SETTING_KEYS)[number]>> = {};
  for (const key of SETTING_KEYS) {
    if (given(key)) (settings as Record<string, unknown>)[key] = parseSetting(key, text(raw[key]), key);
  }
  let arch: ArchName | undefined;
  if (given('arch')) {
    if (!isArchName(text(raw.arch))) throw new InvalidArgumentError(`arch: expected one of ${ARCH_NAMES.join(', ')}, got '${text(raw.arch)}'`);
    arch = text(raw.arch) as ArchName;
  }
  const textOf = (key: EntryKey) => (given(key) ? text(raw[key]) : undefined);
  const { maxForwardPasses: _cap, ...modeDefaults } = inferenceModeFromText(
    { mode: textOf('mode'), crop: textOf('crop'), stride: textOf('stride'), scales: textOf('scales'), flip: given('flip') ? flag(raw.flip, 'flip') : undefined },
    DEFAULT_MODE_DEFAULTS,
    config.maxForwardPasses,
  );
  // A file's entry without weights is the seeded init, as the example `small` is: nothing is fetched unasked.
  const weights = settings.weights ?? NO_WEIGHTS;
  const engine = settings.engine ?? config.engine;
  // Each entry says its own precision: a service-wide int8 would need one quantisation file to fit every model.
  const precision = settings.precision ?? 'fp32';
  const problem = precisionProblem({ precision, quantization: settings.quantization }, engine);
  if (problem) throw new InvalidArgumentError(`precision: ${problem}`);
  return {
    task: taskOf(arch, weights),
    arch,
    weights,
    weightsKey: settings.weightsKey,
    labels: settings.labels,
    numClasses: settings.numClasses,
    inferenceSize: settings.inferenceSize ?? config.inferenceSize,
    engine,
    threads: settings.threads ?? config.threads,
    workers: settings.workers ?? config.workers,
    maxBatch: settings.maxBatch ?? config.maxBatch,
    precision,
    quantization: settings.quantization,
    default: given('default') ? flag(raw.default, 'default') : false,
    modeDefaults,
  };
}

/** Throws (a one-line message) when two models of one task both say `default: true`. */
export function checkDefaults(entries: readonly ModelEntry[]): void {
  for (const task of ['segmentation', 'classification'] as const) {
    const defaults = entries.filter((entry) => entry.default && entry.task === task);
    if (defaults.length > 1) {
      throw new InvalidArgumentError(`model "${defaults[1].name}": a second default ${task} model (the first is "${defaults[0].name}")`);
    }
  }
}

/** The message of a parser's error without its setting-source prefix, which readEntry already made the key. */
function messageOf(error: unknown): string | undefined {
  if (error instanceof ConfigError || error instanceof InvalidArgumentError) return error.message;
  if (error instanceof Error && error.name === 'WeightsError') return error.message;
  return undefined;
}

/**
 * The entries of a models file's text: `models:` a list of mappings with unique, URL-safe names. Throws
 * ModelsFileError for the first problem, naming the entry (`model "voc": unknown key "wieghts"`).
 */
export function parseModelsFile(file: string, source: string, config: ServerConfig): ModelEntry[] {
  let document: unknown;
  try {
    // YAML 1.2 reads JSON too; duplicate keys are an error.
    document = parseYaml(source);
  } catch (error) {
    throw new ModelsFileError(file, `not YAML or JSON: ${(error as Error).message.split('\n')[0]}`);
  }
  const list = (document as { models?: unknown } | null)?.models;
  if (typeof document !== 'object' || document === null || Array.isArray(document) || !Array.isArray(list)) {
    throw new ModelsFileError(file, 'expected a mapping with a "models" list');
  }
  const extra = Object.keys(document).find((key) => key !== 'models');
  if (extra !== undefined) throw new ModelsFileError(file, `unknown key "${extra}" (known: models)`);
  if (list.length === 0) throw new ModelsFileError(file, 'the "models" list is empty');
  if (list.length > MAX_MODELS) {
    throw new ModelsFileError(file, `the "models" list has ${list.length} entries, more than the ${MAX_MODELS} one service runs (each holds its own engine and threads)`);
  }
  const entries: ModelEntry[] = [];
  list.forEach((raw: unknown, index) => {
    const where = typeof (raw as { name?: unknown })?.name === 'string' ? `model "${(raw as { name: string }).name}"` : `model #${index + 1}`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ModelsFileError(file, `${where}: expected a mapping`);
    const name = (raw as { name?: unknown }).name;
    if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
      throw new ModelsFileError(file, `${where}: name must be 1-64 letters, digits and -._~ starting with a letter or digit, got ${JSON.stringify(name ?? null)}`);
    }
    if (entries.some((entry) => entry.name === name)) throw new ModelsFileError(file, `${where}: the name is used twice`);
    try {
      entries.push({ ...readEntry(raw as Record<string, unknown>, config), name });
    } catch (error) {
      const message = messageOf(error);
      if (message === undefined) throw error;
      throw new ModelsFileError(file, `${where}: ${message}`, { cause: error });
    }
  });
  try {
    checkDefaults(entries);
  } catch (error) {
    throw new ModelsFileError(file, (error as Error).message);
  }
  return entries;
}

/** parseModelsFile of the file at `file`; an unreadable file is a ModelsFileError too. */
export async function readModelsFile(file: string, config: ServerConfig): Promise<ModelEntry[]> {
  let source: string;
  try {
    // A regular file of bounded size: a symlink to /dev/urandom must not be read for half a minute into memory.
    const stats = await stat(file);
    if (!stats.isFile()) throw new Error('it is not a regular file');
    if (stats.size > MAX_MODELS_FILE_BYTES) throw new Error(`it has ${stats.size} bytes, more than the ${MAX_MODELS_FILE_BYTES} a models file may have`);
    source = await readFile(file, 'utf8');
  } catch (error) {
    throw new ModelsFileError(file, `cannot be read: ${(error as Error).message}`);
  }
  return parseModelsFile(file, source, config);
}

/**
 * The repository the single-model settings describe: the segmentation model, then the classifier unless
 * `classifierArch` is `none`, both unnamed (their arch names them, as before the repository existed) and defaults.
 */
export function entriesFromSettings(config: ServerConfig): ModelEntry[] {
  const shared = {
    inferenceSize: config.inferenceSize,
    engine: config.engine,
    threads: config.threads,
    workers: config.workers,
    maxBatch: config.maxBatch,
    precision: 'fp32' as Precision,
    default: true,
    modeDefaults: DEFAULT_MODE_DEFAULTS,
  };
  const entries: ModelEntry[] = [
    {
      ...shared,
      task: 'segmentation',
      arch: config.arch,
      weights: config.weights,
      weightsKey: config.weightsKey,
      numClasses: config.numClasses,
      labels: config.labels,
      // The precision settings are the segmentation model's (the classifier stays fp32).
      precision: config.precision,
      quantization: config.quantization,
    },
  ];
  if (config.classifierArch !== 'none') {
    entries.push({ ...shared, task: 'classification', arch: config.classifierArch, weights: config.classifierWeights, weightsKey: config.classifierWeightsKey });
  }
  return entries;
}

/**
 * What decides whether a reload must load an entry again: the entry as validated, and for a weights file its size
 * and modification time (a checkpoint replaced under the same path is a changed model).
 */
export async function fingerprintOf(entry: ModelEntry): Promise<string> {
  let file = '';
  if (entry.weights && entry.weights !== NO_WEIGHTS && !isPresetName(entry.weights) && !/^https?:\/\//.test(entry.weights)) {
    try {
      const stats = await stat(entry.weights);
      file = `${stats.size}:${stats.mtimeMs}`;
    } catch {
      file = 'missing';
    }
  }
  return JSON.stringify([entry, file]);
}
