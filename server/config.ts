import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { ApiKeyFileError, parseApiKeyFile, type ApiKeys } from './api-keys.js';
import { untrainedNumClasses } from '../model/descriptor.js';
import type { EngineName } from '../model/engines/engine.js';
import { EXECUTION_PROVIDERS, type ExecutionProvider } from '../model/engines/execution-providers.js';
import type { ArchName } from '../model/loaded-model.js';
import { PRECISIONS, precisionProblem, type Precision } from '../model/quantize/precision-options.js';
import { DOWNLOAD_LIMITS } from '../model/weights/download-limits.js';
import type { FetchOptions } from '../model/weights/source.js';
import { DEFAULT_MAX_FORWARD_PASSES } from '../segmentation/inference-modes/options.js';
import { SERVER_VIDEO_LIMITS } from '../segmentation/video/limits.js';

export type SegmentationArch = Extract<ArchName, `lraspp_${string}`>;
export type ClassifierArch = Extract<ArchName, `mobilenet_${string}`>;
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** Every setting of the HTTP service, validated. */
export interface ServerConfig {
  /** With weights a check (the checkpoint or preset says); without, the default's (fastseg_mobilev3_large). */
  arch?: SegmentationArch;
  /**
   * Checkpoint path, URL or preset name of the segmentation model; `none` → seeded untrained init; absent → the
   * arch's default preset when it can be fetched, else the seeded init.
   */
  weights?: string;
  /** Entry of a training checkpoint to load, e.g. `model_ema`. */
  weightsKey?: string;
  /** The same for the classifier's checkpoint. */
  classifierWeightsKey?: string;
  /** With weights a check; without, the preset's, else the label set's, else the untrained default (model/descriptor.ts). */
  numClasses?: number;
  /** `cityscapes`, `voc` or a path to a label-set file; absent → the preset's, else the one of the class count (19, 21). */
  labels?: string;
  /** `none` serves no classifier (and /v1/classify answers 400); absent → the preset's, else mobilenet_v3_large. */
  classifierArch?: ClassifierArch | 'none';
  classifierWeights?: string;
  /** Base URL replacing https://download.pytorch.org/models/ for presets. */
  weightsMirror?: string;
  downloadIdleTimeoutMs: number;
  downloadMaxBytes: number;
  /** Default long side the image is resized to for inference. */
  inferenceSize: number | 'native';
  maxPixels: number;
  /** Most network runs one segmentation may take (slide windows x scales x flips); more is a 400. */
  maxForwardPasses: number;
  bodyLimit: number;
  /** 0 runs inference on the main thread; N > 0 runs it in a pool of N worker threads. */
  workers: number;
  /** Intra-op threads of each engine instance (ONNX Runtime); 0 = the cores divided among the workers. */
  threads: number;
  /** Dynamic batching: most same-size images run as one batch (1 = off). */
  maxBatch: number;
  /** Dynamic batching: longest an image waits for companions. */
  batchWaitMs: number;
  queueLimit: number;
  /** Image requests one client (API key, else address) may have in flight; 0 = no per-client share. */
  clientInFlightLimit: number;
  /** Whole request, from arrival to the last byte of the answer. */
  requestTimeoutMs: number;
  /** A job still running this long after its request stopped waiting has its worker thread terminated and replaced. */
  stuckJobMs: number;
  shutdownTimeoutMs: number;
  /** Bytes the whole process may use; 'auto' = the cgroup limit, else half the machine. */
  memoryBudget: number | 'auto';
  /** Most pixels the network runs at in one forward pass (independent of the decode limit maxPixels). */
  maxInferencePixels: number;
  /** Longest side over shortest side an image may have. */
  maxAspectRatio: number;
  /** Time allowed for a request's headers to arrive. */
  headersTimeoutMs: number;
  /** Longest pause between two chunks of a request body. */
  bodyIdleTimeoutMs: number;
  /** Slowest average body rate accepted once the body has been arriving for a grace period, bytes per second. */
  bodyMinRate: number;
  /** Open connections at once; further ones are closed on arrival. */
  maxConnections: number;
  /** How long an idle keep-alive connection stays open. */
  keepAliveTimeoutMs: number;
  engine: EngineName | 'auto';
  /** ONNX Runtime's execution provider for every model: cpu, or cuda. */
  executionProvider: ExecutionProvider;
  /** Segmentation model's arithmetic: fp32, or int8 (ONNX engine, with `quantization`). */
  precision: Precision;
  /** The `cityseg quantize` file int8 reads (activation ranges of these very weights). */
  quantization?: string;
  cacheDir?: string;
  port: number;
  host: string;
  logLevel: LogLevel;
  /** Bearer keys the API routes require (read from the file at start-up); absent → no authentication. */
  apiKeys?: ApiKeys;
  /** /metrics requires an API key too (when keys are configured). */
  metricsAuth: boolean;
  /** Requests per client (API key, else address) per window on the API routes; 0 = no rate limit. */
  rateLimitMax: number;
  rateLimitWindowMs: number;
  /** Origins allowed to call the API from a browser (CORS); absent → no CORS headers at all. */
  corsOrigins?: string[];
  /** The model repository file (YAML or JSON, server/models-file.ts); absent → the single-model settings above. */
  models?: string;
  /** Bearer token of POST /v1/admin/reload; absent → the admin route does not exist (404). */
  adminToken?: string;
  /** The ffmpeg executable (video); absent → `ffmpeg` on the PATH. */
  ffmpeg?: string;
  /** The ffprobe executable; absent → beside ffmpeg, else on the PATH. */
  ffprobe?: string;
  /** Where video jobs keep their uploads and results; absent → `<cache dir>/jobs`. */
  jobsDir?: string;
  /** Largest video upload of POST /v1/jobs, bytes. */
  jobUploadLimit: number;
  /** A video upload's whole time, arrival to last byte (in place of requestTimeoutMs, which fits images). */
  jobUploadTimeoutMs: number;
  /** Video uploads one client may have arriving at once; 0 = no limit. */
  jobClientUploads: number;
  /** Most frames a job's video may hold. */
  jobMaxFrames: number;
  /** Longest a job's video may last, seconds. */
  jobMaxSeconds: number;
  /** Video jobs waiting or running at once; one more is a 429. */
  jobConcurrency: number;
  /** Jobs kept (any state, results included); one more is a 503 until one expires or is deleted. */
  jobMaxStored: number;
  /** How long a finished job's results are kept. */
  jobTtlMs: number;
}

export type SettingName = keyof ServerConfig;

/** Raw setting values from the command line (commander hands over strings; tests may pass numbers). */
export type ConfigFlags = Partial<Record<SettingName, string | number | undefined>>;

/** A setting that was given a value it cannot take; `source` names the env var or flag. */
export class ConfigError extends Error {
  readonly setting: SettingName;
  readonly source: string;
  constructor(
    setting: SettingName,
    source: string,
    detail: string,
  ) {
    super(`${source}: ${detail}`);
    this.setting = setting;
    this.source = source;
    this.name = 'ConfigError';
  }
}

type Parser = (raw: string) => ServerConfig[SettingName];

/** Thrown by a parser; loadConfig adds which setting and source it came from. */
class InvalidValue extends Error {}

function integer(min: number, max: number): Parser {
  return (raw) => {
    const value = Number(raw.trim());
    if (raw.trim() === '' || !Number.isInteger(value) || value < min || value > max) {
      throw new InvalidValue(`expected an integer in ${min}..${max}, got '${raw}'`);
    }
    return value;
  };
}

function oneOf<T extends string>(...choices: T[]): Parser {
  return (raw) => {
    if (!(choices as string[]).includes(raw)) {
      throw new InvalidValue(`expected one of ${choices.join(', ')}, got '${raw}'`);
    }
    return raw as T;
  };
}

function nonEmpty(raw: string): string {
  if (raw.trim() === '') throw new InvalidValue('expected a non-empty value');
  return raw;
}

const BYTE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** Bytes as an integer or with a unit: `20971520`, `20MiB`, `500kb`. */
function byteSize(raw: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(raw);
  const unit = match ? BYTE_UNITS[match[2].toLowerCase()] : undefined;
  if (!match || unit === undefined) {
    throw new InvalidValue(`expected a byte count such as 20971520 or 20MiB, got '${raw}'`);
  }
  const bytes = Math.round(Number(match[1]) * unit);
  if (bytes < 1) throw new InvalidValue(`expected at least 1 byte, got '${raw}'`);
  return bytes;
}

/** An http(s) base URL. */
function httpUrl(raw: string): string {
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw new InvalidValue(`expected an http(s) URL, got '${raw}'`);
  return raw;
}

function byteSizeOrAuto(raw: string): number | 'auto' {
  return raw.trim() === 'auto' ? 'auto' : byteSize(raw);
}

function boolean(raw: string): boolean {
  if (/^(true|1|yes)$/i.test(raw.trim())) return true;
  if (/^(false|0|no)$/i.test(raw.trim())) return false;
  throw new InvalidValue(`expected true or false, got '${raw}'`);
}

/** The API keys file at this path, read now: a file that cannot be read or parsed stops start-up. */
function apiKeysFile(path: string): ApiKeys {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new InvalidValue(`cannot read the API keys file '${path}' (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  try {
    return parseApiKeyFile(path, text);
  } catch (error) {
    // The message names the line, never the key on it.
    if (error instanceof ApiKeyFileError) throw new InvalidValue(error.message);
    throw error;
  }
}

/** Comma-separated browser origins (`https://app.example.org,http://localhost:3000`), each exactly an origin. */
function originList(raw: string): string[] {
  const origins = raw.split(',').map((origin) => origin.trim()).filter((origin) => origin !== '');
  if (origins.length === 0) throw new InvalidValue('expected one or more origins such as https://app.example.org');
  for (const origin of origins) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (!parsed || parsed.origin !== origin) {
      throw new InvalidValue(`'${origin}' is not an origin (scheme://host[:port], no path or trailing slash)`);
    }
  }
  return origins;
}

function sizeOrNative(raw: string): number | 'native' {
  return raw === 'native' ? 'native' : (integer(32, 4096)(raw) as number);
}

interface SettingSpec {
  env: string;
  /** Long CLI flag, without the leading dashes. */
  flag: string;
  parse: Parser;
  fallback?: ServerConfig[SettingName];
  help: string;
}

const MINUTE_MS = 60_000;

/** The settings table: env var, flag, parser, default. main.ts builds its CLI flags from it. */
export const SETTINGS: Record<SettingName, SettingSpec> = {
  arch: { env: 'CITYSEG_ARCH', flag: 'arch', parse: oneOf('fastseg_mobilev3_large', 'fastseg_mobilev3_small', 'lraspp_mobilenet_v3_large', 'lraspp_mobilenet_v3_small'), help: "segmentation architecture: checked against the checkpoint or preset; default fastseg_mobilev3_large (preset fastseg:mobilev3large-lraspp-f128)" },
  weights: { env: 'CITYSEG_WEIGHTS', flag: 'weights', parse: nonEmpty, help: 'segmentation checkpoint: .pth/.safetensors path, URL or torchvision:<arch>[.<VARIANT>]; none = untrained seeded init; absent = the default preset if it can be fetched' },
  weightsKey: { env: 'CITYSEG_WEIGHTS_KEY', flag: 'weights-key', parse: nonEmpty, help: 'entry of a training checkpoint to load, e.g. model_ema' },
  classifierWeightsKey: { env: 'CITYSEG_CLASSIFIER_WEIGHTS_KEY', flag: 'classifier-weights-key', parse: nonEmpty, help: "entry of the classifier's training checkpoint to load" },
  numClasses: { env: 'CITYSEG_NUM_CLASSES', flag: 'num-classes', parse: integer(1, 255), help: `segmentation classes: checked against the checkpoint or preset; untrained default: the label set's, else ${untrainedNumClasses('segmentation')}` },
  labels: { env: 'CITYSEG_LABELS', flag: 'labels', parse: nonEmpty, help: "label set: cityscapes, voc or a file path; default: the preset's, else the one of the class count (19 cityscapes, 21 voc)" },
  classifierArch: { env: 'CITYSEG_CLASSIFIER_ARCH', flag: 'classifier-arch', parse: oneOf('mobilenet_v3_large', 'mobilenet_v3_small', 'none'), help: "ImageNet classifier architecture, or none (default: the preset's, else mobilenet_v3_large)" },
  classifierWeights: { env: 'CITYSEG_CLASSIFIER_WEIGHTS', flag: 'classifier-weights', parse: nonEmpty, help: 'classifier checkpoint: .pth/.safetensors path, URL or torchvision:<arch>[.<VARIANT>]; none = untrained seeded init; absent = the default preset if it can be fetched' },
  weightsMirror: { env: 'CITYSEG_WEIGHTS_MIRROR', flag: 'weights-mirror', parse: httpUrl, help: "base URL replacing the download folders of torchvision: and fastseg: presets (https://download.pytorch.org/models/, fastseg's release)" },
  downloadIdleTimeoutMs: { env: 'CITYSEG_DOWNLOAD_IDLE_TIMEOUT_MS', flag: 'download-idle-timeout-ms', parse: integer(1, 60 * MINUTE_MS), fallback: DOWNLOAD_LIMITS.idleTimeoutMs, help: 'weights downloads: longest wait for the next bytes' },
  downloadMaxBytes: { env: 'CITYSEG_DOWNLOAD_MAX_BYTES', flag: 'download-max-bytes', parse: byteSize, fallback: DOWNLOAD_LIMITS.maxBytes, help: 'weights downloads: largest file (bytes, or e.g. 200MB)' },
  inferenceSize: { env: 'CITYSEG_INFERENCE_SIZE', flag: 'inference-size', parse: sizeOrNative, fallback: 1024, help: 'default inference long side (32..4096) or native' },
  maxPixels: { env: 'CITYSEG_MAX_PIXELS', flag: 'max-pixels', parse: integer(1, 1e9), fallback: 40e6, help: 'largest accepted image, in pixels' },
  maxForwardPasses: { env: 'CITYSEG_MAX_FORWARD_PASSES', flag: 'max-forward-passes', parse: integer(1, 100_000), fallback: DEFAULT_MAX_FORWARD_PASSES, help: 'most forward passes per segmentation (mode=slide windows x scales x flips)' },
  bodyLimit: { env: 'CITYSEG_BODY_LIMIT', flag: 'body-limit', parse: byteSize, fallback: 20 * 1024 ** 2, help: 'largest accepted request body (bytes, or e.g. 20MiB)' },
  workers: { env: 'CITYSEG_WORKERS', flag: 'workers', parse: integer(0, 64), fallback: 1, help: 'worker threads doing all pixel work (decode, inference, encode); 0 = on the main thread, which then stalls health checks' },
  threads: { env: 'CITYSEG_THREADS', flag: 'threads', parse: integer(0, 256), fallback: 0, help: 'intra-op threads per engine (ONNX Runtime); 0 = cores / max(1, workers)' },
  maxBatch: { env: 'CITYSEG_MAX_BATCH', flag: 'max-batch', parse: integer(1, 64), fallback: 1, help: 'dynamic batching: most same-size images per batch (1 = off)' },
  batchWaitMs: { env: 'CITYSEG_BATCH_WAIT_MS', flag: 'batch-wait-ms', parse: integer(0, 10_000), fallback: 5, help: 'dynamic batching: longest an image waits for a batch to fill' },
  queueLimit: { env: 'CITYSEG_QUEUE_LIMIT', flag: 'queue-limit', parse: integer(1, 100_000), fallback: 64, help: 'requests allowed to wait for inference before 503' },
  clientInFlightLimit: { env: 'CITYSEG_CLIENT_IN_FLIGHT_LIMIT', flag: 'client-in-flight-limit', parse: integer(0, 100_000), fallback: 32, help: 'image requests one client (API key, else address) may have in flight, receiving, waiting or running, before 429 (0 = no limit; behind a proxy all clients without a key share its address)' },
  requestTimeoutMs: { env: 'CITYSEG_REQUEST_TIMEOUT_MS', flag: 'request-timeout-ms', parse: integer(1, 60 * MINUTE_MS), fallback: 30_000, help: 'whole request, arrival to last byte of the answer: 408 while the body arrives, 503 while waiting or running' },
  stuckJobMs: { env: 'CITYSEG_STUCK_JOB_MS', flag: 'stuck-job-ms', parse: integer(1, 60 * MINUTE_MS), fallback: 10_000, help: 'a job still running this long after its request timed out or went away: its worker thread is terminated and replaced (workers > 0)' },
  shutdownTimeoutMs: { env: 'CITYSEG_SHUTDOWN_TIMEOUT_MS', flag: 'shutdown-timeout-ms', parse: integer(1, 60 * MINUTE_MS), fallback: 30_000, help: 'graceful-shutdown budget before a forced exit' },
  memoryBudget: { env: 'CITYSEG_MEMORY_BUDGET', flag: 'memory-budget', parse: byteSizeOrAuto, fallback: 'auto', help: 'memory the process may use (e.g. 2GiB); auto = the container limit, else half the machine' },
  maxInferencePixels: { env: 'CITYSEG_MAX_INFERENCE_PIXELS', flag: 'max-inference-pixels', parse: integer(1024, 1e9), fallback: 8_388_608, help: 'most pixels the network runs at per forward pass (413 above)' },
  maxAspectRatio: { env: 'CITYSEG_MAX_ASPECT_RATIO', flag: 'max-aspect-ratio', parse: integer(1, 1_000_000), fallback: 100, help: 'longest over shortest image side (422 above)' },
  headersTimeoutMs: { env: 'CITYSEG_HEADERS_TIMEOUT_MS', flag: 'headers-timeout-ms', parse: integer(100, 10 * MINUTE_MS), fallback: 10_000, help: 'time for a request\'s headers to arrive' },
  bodyIdleTimeoutMs: { env: 'CITYSEG_BODY_IDLE_TIMEOUT_MS', flag: 'body-idle-timeout-ms', parse: integer(100, 10 * MINUTE_MS), fallback: 10_000, help: 'longest pause inside a request body (408 after)' },
  bodyMinRate: { env: 'CITYSEG_BODY_MIN_RATE', flag: 'body-min-rate', parse: integer(0, 1e9), fallback: 4096, help: 'slowest average body rate, bytes/s, checked once the body has taken the idle timeout or 5 s (408 below; 0 = off)' },
  maxConnections: { env: 'CITYSEG_MAX_CONNECTIONS', flag: 'max-connections', parse: integer(1, 1_000_000), fallback: 1024, help: 'open connections at once' },
  keepAliveTimeoutMs: { env: 'CITYSEG_KEEP_ALIVE_TIMEOUT_MS', flag: 'keep-alive-timeout-ms', parse: integer(1, 10 * MINUTE_MS), fallback: 5_000, help: 'idle keep-alive connections close after this' },
  engine: { env: 'CITYSEG_ENGINE', flag: 'engine', parse: oneOf('auto', 'tfjs', 'onnx'), fallback: 'auto', help: 'inference runtime' },
  executionProvider: { env: 'CITYSEG_EXECUTION_PROVIDER', flag: 'execution-provider', parse: oneOf(...EXECUTION_PROVIDERS), fallback: 'cpu', help: 'ONNX Runtime execution provider: cpu, or cuda (onnxruntime-node installed with ONNXRUNTIME_NODE_INSTALL=cuda12, CUDA 12; start-up fails naming it when not available)' },
  precision: { env: 'CITYSEG_PRECISION', flag: 'precision', parse: oneOf(...PRECISIONS), fallback: 'fp32', help: 'segmentation arithmetic: fp32, or int8 (onnx engine; needs --quantization, see README "INT8 (opt-in)")' },
  quantization: { env: 'CITYSEG_QUANTIZATION', flag: 'quantization', parse: nonEmpty, help: 'int8: the activation ranges file written by cityseg quantize for these weights' },
  cacheDir: { env: 'CITYSEG_CACHE_DIR', flag: 'cache-dir', parse: nonEmpty, help: 'where downloaded checkpoints are cached' },
  port: { env: 'PORT', flag: 'port', parse: integer(0, 65535), fallback: 8080, help: 'listening port' },
  // Loopback unless told otherwise: the Dockerfile, compose and deploy/k8s set HOST=0.0.0.0 themselves.
  host: { env: 'HOST', flag: 'host', parse: nonEmpty, fallback: '127.0.0.1', help: 'listening address' },
  logLevel: { env: 'LOG_LEVEL', flag: 'log-level', parse: oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'), fallback: 'info', help: 'pino log level' },
  apiKeys: { env: 'CITYSEG_API_KEYS', flag: 'api-keys', parse: apiKeysFile, help: 'file of API keys, one per line (the key or sha256:<hex>); absent → no authentication' },
  metricsAuth: { env: 'CITYSEG_METRICS_AUTH', flag: 'metrics-auth', parse: boolean, fallback: false, help: '/metrics requires an API key too' },
  rateLimitMax: { env: 'CITYSEG_RATE_LIMIT_MAX', flag: 'rate-limit-max', parse: integer(0, 1e9), fallback: 0, help: 'API requests per client per window, then 429 (0 = no limit)' },
  rateLimitWindowMs: { env: 'CITYSEG_RATE_LIMIT_WINDOW_MS', flag: 'rate-limit-window-ms', parse: integer(1, 24 * 60 * MINUTE_MS), fallback: MINUTE_MS, help: 'rate-limit window' },
  corsOrigins: { env: 'CITYSEG_CORS_ORIGINS', flag: 'cors-origins', parse: originList, help: 'comma-separated origins allowed by CORS; absent → CORS off' },
  models: { env: 'CITYSEG_MODELS', flag: 'models', parse: nonEmpty, help: 'model repository file (YAML or JSON: models: [{name, arch, weights, ...}]); absent → one segmentation model and one classifier from the flags above' },
  adminToken: { env: 'CITYSEG_ADMIN_TOKEN', flag: 'admin-token', parse: nonEmpty, help: 'Bearer token of POST /v1/admin/reload (re-reads the models file); absent → the admin route is off' },
  ffmpeg: { env: 'CITYSEG_FFMPEG', flag: 'ffmpeg', parse: nonEmpty, help: 'the ffmpeg executable for video (ffprobe is looked for beside it); absent → ffmpeg on the PATH' },
  ffprobe: { env: 'CITYSEG_FFPROBE', flag: 'ffprobe', parse: nonEmpty, help: 'the ffprobe executable; absent → beside ffmpeg, else on the PATH' },
  jobsDir: { env: 'CITYSEG_JOBS_DIR', flag: 'jobs-dir', parse: nonEmpty, help: 'where video jobs keep uploads and results (kept across restarts until they expire); absent → <cache dir>/jobs' },
  jobUploadLimit: { env: 'CITYSEG_JOB_UPLOAD_LIMIT', flag: 'job-upload-limit', parse: byteSize, fallback: 512 * 1024 ** 2, help: 'largest video upload to POST /v1/jobs (bytes, or e.g. 512MiB)' },
  jobUploadTimeoutMs: { env: 'CITYSEG_JOB_UPLOAD_TIMEOUT_MS', flag: 'job-upload-timeout-ms', parse: integer(1000, 24 * 60 * MINUTE_MS), fallback: 60 * MINUTE_MS, help: 'whole video upload to POST /v1/jobs, arrival to last byte, in place of CITYSEG_REQUEST_TIMEOUT_MS (408 after; the default takes the largest upload at 150 kB/s); pauses and slow rates are cut as in any body (CITYSEG_BODY_IDLE_TIMEOUT_MS, CITYSEG_BODY_MIN_RATE)' },
  jobClientUploads: { env: 'CITYSEG_JOB_CLIENT_UPLOADS', flag: 'job-client-uploads', parse: integer(0, 10_000), fallback: 2, help: 'video uploads one client (API key, else address) may have arriving at once, before 429 with Retry-After (0 = no limit)' },
  jobMaxFrames: { env: 'CITYSEG_JOB_MAX_FRAMES', flag: 'job-max-frames', parse: integer(1, 10_000_000), fallback: SERVER_VIDEO_LIMITS.maxFrames, help: 'most frames a video job may hold (413 above)' },
  jobMaxSeconds: { env: 'CITYSEG_JOB_MAX_SECONDS', flag: 'job-max-seconds', parse: integer(1, 7 * 86_400), fallback: SERVER_VIDEO_LIMITS.maxSeconds, help: 'longest video a job may take, seconds (413 above)' },
  jobConcurrency: { env: 'CITYSEG_JOB_CONCURRENCY', flag: 'job-concurrency', parse: integer(1, 64), fallback: 1, help: 'video jobs waiting or running at once (429 with Retry-After above)' },
  jobMaxStored: { env: 'CITYSEG_JOB_MAX_STORED', flag: 'job-max-stored', parse: integer(1, 100_000), fallback: 50, help: 'video jobs kept with their results (503 with Retry-After above)' },
  jobTtlMs: { env: 'CITYSEG_JOB_TTL_MS', flag: 'job-ttl-ms', parse: integer(1000, 30 * 24 * 60 * MINUTE_MS), fallback: 60 * MINUTE_MS, help: 'how long a finished video job and its results are kept' },
};

/**
 * One value of setting `name` read by its parser, for files that restate settings (the models file); throws
 * ConfigError naming `source`.
 */
export function parseSetting<K extends SettingName>(name: K, raw: string, source: string): ServerConfig[K] {
  try {
    return SETTINGS[name].parse(raw) as ServerConfig[K];
  } catch (error) {
    if (error instanceof InvalidValue) throw new ConfigError(name, source, error.message);
    throw error;
  }
}

/** Settings that describe the single segmentation model and classifier; a models file names each model's own. */
const SINGLE_MODEL_SETTINGS = [
  'arch', 'weights', 'weightsKey', 'numClasses', 'labels', 'classifierArch', 'classifierWeights', 'classifierWeightsKey', 'precision', 'quantization',
] as const satisfies readonly SettingName[];

/**
 * Resolves every setting: a CLI flag wins over the env var, which wins over the default.
 * Throws ConfigError naming the flag or env var whose value is invalid.
 */
export function loadConfig(env: Record<string, string | undefined>, flags: ConfigFlags = {}): ServerConfig {
  const config = loadSettings(env, Object.keys(SETTINGS) as SettingName[], flags) as ServerConfig;
  if (config.models !== undefined) {
    // With a models file these describe nothing: taking them silently would serve other weights than asked for.
    const ignored = SINGLE_MODEL_SETTINGS.find((name) => flags[name] !== undefined || (env[SETTINGS[name].env] ?? '') !== '');
    if (ignored !== undefined) {
      const source = flags[ignored] !== undefined ? `--${SETTINGS[ignored].flag}` : SETTINGS[ignored].env;
      throw new ConfigError(ignored, source, `has no effect with a models file (${SETTINGS.models.env}): set it on the model's entry in that file`);
    }
  }
  const problem = precisionProblem(config, config.engine);
  if (problem) {
    const source = flags.precision !== undefined ? `--${SETTINGS.precision.flag}` : SETTINGS.precision.env;
    throw new ConfigError('precision', source, problem);
  }
  return config;
}

/** loadConfig for some settings only (the CLI reads the download settings this way). */
export function loadSettings<K extends SettingName>(env: Record<string, string | undefined>, names: readonly K[], flags: ConfigFlags = {}): Pick<ServerConfig, K> {
  const config: Partial<Record<SettingName, ServerConfig[SettingName]>> = {};
  for (const name of names) {
    const spec: SettingSpec = SETTINGS[name];
    const flagValue = flags[name];
    const [raw, source] =
      flagValue !== undefined ? [String(flagValue), `--${spec.flag}`] : [env[spec.env], spec.env];
    if (raw === undefined || (source === spec.env && raw === '')) {
      if (spec.fallback !== undefined) config[name] = spec.fallback;
      continue;
    }
    try {
      config[name] = spec.parse(raw);
    } catch (error) {
      if (error instanceof InvalidValue) throw new ConfigError(name, source, error.message);
      throw error;
    }
  }
  return config as Pick<ServerConfig, K>;
}

/** The download settings as the weights resolver takes them. */
export function fetchOptionsOf(config: Pick<ServerConfig, 'weightsMirror' | 'downloadIdleTimeoutMs' | 'downloadMaxBytes'>): FetchOptions {
  return { mirror: config.weightsMirror, limits: { idleTimeoutMs: config.downloadIdleTimeoutMs, maxBytes: config.downloadMaxBytes } };
}

/** Intra-op threads each engine gets: the setting, or the machine's cores shared out among the workers. */
export function threadsPerEngine(config: Pick<ServerConfig, 'threads' | 'workers'>, cores = availableParallelism()): number {
  return config.threads > 0 ? config.threads : Math.max(1, Math.floor(cores / Math.max(1, config.workers)));
}

/**
 * Jobs each engine instance (the main thread's, or one worker's) takes at once: a batch's worth so the batcher can
 * group them, plus one whose decoding and post-processing overlap the running inference (engines run one at a time).
 */
export function jobsPerEngine(config: Pick<ServerConfig, 'maxBatch'>): number {
  return config.maxBatch + 1;
}
