/**
 * Where weights come from: a local file, an http(s) URL or a torchvision preset name, the last two downloaded once
 * into a cache directory. Downloads go to a temporary file that is renamed into place only when complete (and
 * verified), so an interrupted or concurrent download never leaves a half-written checkpoint where the cache looks.
 * Like torch.hub, a file name carrying a hash (`name-<hex>.pth`) must match the file's SHA-256 prefix; a preset's
 * full SHA-256 and byte count, where known, must match exactly. Downloads are bounded: connect and idle timeouts,
 * an overall deadline and a size cap.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, stat, unlink, utimes } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { WeightsError } from './errors.js';
import { httpGet } from './http-get.js';
import { readCheckpoint } from './load.js';
import { activePresets, findPreset, isPresetName, presetUrl, type WeightsPreset } from './presets.js';
import { redactUrl } from './redact.js';
import { DOWNLOAD_LIMITS, type DownloadLimits } from './download-limits.js';

export interface ResolvedWeights {
  /** Absolute path of the local file to read. */
  path: string;
  /** What the user asked for (path, preset name, or URL without its credentials: redactUrl), for reports. */
  source: string;
  /** SHA-256 of the file, hex. */
  sha256: string;
  /** The preset, when `source` named one. */
  preset?: WeightsPreset;
}

export { DOWNLOAD_LIMITS, type DownloadLimits };

/** How weights are fetched: the server's settings and the CLI's variables fill it. */
export interface FetchOptions {
  /** Base URL that replaces torchvision's download folder for presets (CITYSEG_WEIGHTS_MIRROR). */
  mirror?: string;
  limits?: Partial<DownloadLimits>;
  /** The preset table; default activePresets(). */
  presets?: readonly WeightsPreset[];
}

export interface ResolveOptions extends FetchOptions {
  /** Overrides CITYSEG_CACHE_DIR and the XDG default. */
  cacheDir?: string;
  /** Called as download bytes arrive; `total` is null without a Content-Length. */
  onProgress?: (received: number, total: number | null) => void;
}

/** What a download must match: a full hash and size where known (presets), else the file name's hash prefix. */
interface Expected {
  sha256?: string;
  bytes?: number;
  /** `warn`: a hash prefix that does not match is reported, not refused (WeightsPreset.prefixCheck). */
  prefixCheck?: 'warn';
}

/** torch.hub's HASH_REGEX: the first `-<hex>.` in the file name. */
const HASH_IN_NAME = /-([a-f0-9]*)\./;

const REMOTE_SCHEMES = new Set(['http:', 'https:']);

/** `$CITYSEG_CACHE_DIR`, else `$XDG_CACHE_HOME/cityseg`, else `~/.cache/cityseg`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CITYSEG_CACHE_DIR) return resolve(env.CITYSEG_CACHE_DIR);
  return join(env.XDG_CACHE_HOME ? resolve(env.XDG_CACHE_HOME) : join(homedir(), '.cache'), 'cityseg');
}

/** The hash prefix torch.hub would check for this file name, or null when the name carries none. */
export function hashPrefixOf(fileName: string): string | null {
  const match = HASH_IN_NAME.exec(fileName);
  return match && match[1].length > 0 ? match[1] : null;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function removeQuietly(path: string): Promise<void> {
  await unlink(path).catch(() => undefined);
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isFile(), () => false);
}

/** Why a file of this name, hash and size is not the expected one, or null when it is. */
function mismatch(fileName: string, sha256: string, bytes: number, expected: Expected): string | null {
  if (expected.bytes !== undefined && bytes !== expected.bytes) return `${bytes} bytes, expected ${expected.bytes}`;
  if (expected.sha256 !== undefined) return sha256 === expected.sha256 ? null : `SHA-256 ${sha256}, expected ${expected.sha256}`;
  const prefix = hashPrefixOf(fileName);
  const problem = prefix === null || sha256.startsWith(prefix) ? null : `SHA-256 ${sha256} does not start with ${prefix} from the file name`;
  if (problem !== null && expected.prefixCheck === 'warn') {
    process.emitWarning(`${fileName}: ${problem}; its publisher never checks that prefix, so the file is used (a damaged one fails to load)`, { code: 'CITYSEG_WEIGHTS_HASH_PREFIX' });
    return null;
  }
  return problem;
}

async function resolveLocal(spec: string): Promise<ResolvedWeights> {
  const path = resolve(spec.startsWith('file:') ? fileURLToPath(spec) : spec);
  const info = await stat(path).catch((cause: NodeJS.ErrnoException) => {
    throw new WeightsError(spec, cause.code === 'ENOENT' ? 'file not found' : cause.message, { cause });
  });
  if (!info.isFile()) throw new WeightsError(spec, 'is not a regular file');
  return { path, source: spec, sha256: await sha256File(path) };
}

/** The code or name of the innermost cause. */
function rootCause(error: unknown): { code?: string; name?: string; message: string } {
  let current = error as { code?: string; name?: string; message?: string; cause?: unknown } | undefined;
  while (current?.cause && typeof current.cause === 'object') current = current.cause as typeof current;
  return { code: current?.code, name: current?.name, message: current?.message ?? String(error) };
}

/** One line saying which bound stopped the download, or what the network said. */
function describeFailure(error: unknown, limits: DownloadLimits, deadline: AbortSignal): string {
  if (deadline.aborted) return `not finished within the ${limits.deadlineMs} ms deadline`;
  const { code, name, message } = rootCause(error);
  switch (code) {
    case 'CONNECT_TIMEOUT':
    case 'IDLE_TIMEOUT':
    case 'TOO_MANY_REDIRECTS':
    case 'BAD_REDIRECT':
      return message;
    case 'ECONNRESET':
      // Node's word for a body cut before its announced end.
      return message === 'aborted' ? 'the connection closed before the body ended' : code;
    default:
      // The URL before the message already names the host: the code says the rest (ENOTFOUND, ECONNREFUSED).
      if (code !== undefined) return code;
      return name && name !== 'Error' && name !== 'TypeError' ? `${name}: ${message}` : message;
  }
}

/** `.part` files of `fileName` that nobody has written to for longer than an active download would pause. */
async function removeStaleParts(dir: string, fileName: string, limits: DownloadLimits): Promise<void> {
  const staleBefore = Date.now() - staleAfterMs(limits);
  const entries = await readdir(dir).catch(() => [] as string[]);
  for (const entry of entries) {
    if (!entry.startsWith(`${fileName}.`) || !entry.endsWith('.part')) continue;
    const path = join(dir, entry);
    const info = await stat(path).catch(() => undefined);
    if (info && info.mtimeMs < staleBefore) await removeQuietly(path);
  }
}

/**
 * Stream `url`'s body into `path`, hashing as it goes; returns the SHA-256. Bounded by `limits` and by `maxBytes`
 * (a declared Content-Length over it fails before reading). `shown` is the URL as errors may print it.
 */
async function download(url: string, shown: string, path: string, limits: DownloadLimits, maxBytes: number, onProgress: ResolveOptions['onProgress']): Promise<string> {
  const deadline = AbortSignal.timeout(limits.deadlineMs);
  // Credentials in the URL become Basic authentication, as curl and torch.hub's urllib do.
  const target = new URL(url);
  const headers: Record<string, string> = {};
  if (target.username || target.password) {
    const credentials = `${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`;
    headers.authorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
    target.username = '';
    target.password = '';
  }
  // A cause's message may quote the URL: never with its query string.
  const failure = (cause: unknown) => describeFailure(cause, limits, deadline).split(target.href).join(shown);
  let received = 0;
  let response: Awaited<ReturnType<typeof httpGet>>;
  try {
    response = await httpGet(target, headers, limits, deadline);
  } catch (cause) {
    throw new WeightsError(shown, `download failed: ${failure(cause)}`, { cause });
  }
  try {
    const status = response.statusCode ?? 0;
    if (status < 200 || status > 299) {
      throw new WeightsError(shown, `download failed: HTTP ${status} ${response.statusMessage ?? ''}`.trimEnd());
    }
    const lengthHeader = response.headers['content-length'];
    const total = lengthHeader === undefined ? null : Number(lengthHeader);
    if (total !== null && total > maxBytes) {
      throw new WeightsError(shown, `download refused: ${total} bytes announced, over the limit of ${maxBytes} bytes`);
    }
    const hash = createHash('sha256');
    const file = await open(path, 'w');
    try {
      for await (const chunk of response as AsyncIterable<Buffer>) {
        received += chunk.length;
        if (received > maxBytes) throw new WeightsError(shown, `download stopped: more than the limit of ${maxBytes} bytes`);
        hash.update(chunk);
        await file.write(chunk);
        onProgress?.(received, total);
      }
    } catch (cause) {
      if (cause instanceof WeightsError) throw cause;
      throw new WeightsError(shown, `download interrupted after ${received} bytes: ${failure(cause)}`, { cause });
    } finally {
      await file.close();
    }
    if (total !== null && received !== total) {
      throw new WeightsError(shown, `download incomplete: got ${received} of ${total} bytes`);
    }
    return hash.digest('hex');
  } finally {
    // Closes the connection of an abandoned body too, so a never-ending server does not keep the process alive.
    response.destroy();
  }
}

/** mkdir -p that reports an unwritable cache as a weights problem naming the directory, not an input error. */
async function makeCacheDir(dir: string, shown: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message;
    throw new WeightsError(shown, `cannot write the weights cache directory ${dir} (${code}); set CITYSEG_CACHE_DIR or --cache-dir to a writable one`, { cause });
  }
}

interface RemoteTarget {
  url: string;
  /** The URL as reports may show it (redactUrl), or the preset's name. */
  source: string;
  path: string;
  expected: Expected;
  preset?: WeightsPreset;
}

function cacheRoot(opts: ResolveOptions): string {
  return opts.cacheDir ? resolve(opts.cacheDir) : defaultCacheDir();
}

/** Where a preset's file is cached: by file name (it carries its hash), whichever mirror it came from. */
export function presetCachePath(preset: WeightsPreset, cacheDir?: string): string {
  return join(cacheDir ? resolve(cacheDir) : defaultCacheDir(), 'weights', preset.publisher ?? 'torchvision', preset.file);
}

/** Whether the preset's file is in the cache (by size where known; the hash is checked when it is used). */
export async function isPresetCached(preset: WeightsPreset, cacheDir?: string): Promise<boolean> {
  const info = await stat(presetCachePath(preset, cacheDir)).catch(() => undefined);
  return info !== undefined && info.isFile() && (preset.bytes === undefined || info.size === preset.bytes);
}

/** Milliseconds without progress after which a `.part` or `.lock` file is taken for a dead download's. */
function staleAfterMs(limits: DownloadLimits): number {
  return limits.connectTimeoutMs + 2 * limits.idleTimeoutMs;
}

/** Why the file does not read as a checkpoint (load.ts readCheckpoint: the loader's own parse), or null when it does. */
async function notACheckpoint(path: string, shown: string): Promise<string | null> {
  try {
    readCheckpoint(await readFile(path), shown);
    return null;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return message.startsWith(`${shown}: `) ? message.slice(shown.length + 2) : message;
  }
}

/**
 * The cached file when it is the expected one: a preset's by full hash and size, a hashed file name's by the hash
 * prefix, any other URL's by reading as a checkpoint (so an error page a mirror once sent is not kept). A bad entry
 * is deleted (it will be fetched again). `shown` names the URL in messages.
 */
async function cachedEntry(target: RemoteTarget, shown: string): Promise<ResolvedWeights | null> {
  const { path, source, expected, preset } = target;
  if (!(await isFile(path))) return null;
  const sha256 = await sha256File(path);
  const size = (await stat(path)).size;
  const verified = expected.sha256 !== undefined || hashPrefixOf(basename(path)) !== null;
  if (mismatch(basename(path), sha256, size, expected) === null && (verified || (await notACheckpoint(path, shown)) === null)) {
    return { path, source, sha256, preset };
  }
  await removeQuietly(path); // a corrupted cache entry: fetch it again
  return null;
}

/**
 * `<path>.lock`, created exclusively, or null while another thread or process holds it (a lock untouched for
 * staleAfterMs is a dead holder's and is taken over). The holder touches it as bytes arrive (`touch`).
 */
async function tryLock(path: string, limits: DownloadLimits): Promise<{ touch: () => void; release: () => Promise<void> } | null> {
  const lock = `${path}.lock`;
  let handle;
  try {
    handle = await open(lock, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const info = await stat(lock).catch(() => undefined);
    if (info && info.mtimeMs < Date.now() - staleAfterMs(limits)) await removeQuietly(lock);
    return null;
  }
  await handle.close();
  let touched = Date.now();
  return {
    touch() {
      if (Date.now() - touched < 1000) return;
      touched = Date.now();
      const now = new Date();
      void utimes(lock, now, now).catch(() => undefined);
    },
    release: () => removeQuietly(lock),
  };
}

/**
 * The target's file in the cache, downloading it when absent or bad. One download per file at a time: the main
 * thread, the worker threads and other processes sharing the cache wait for the one holding its lock, then use
 * what it cached (or, if it failed, try themselves).
 */
async function resolveRemote(target: RemoteTarget, opts: ResolveOptions): Promise<ResolvedWeights> {
  const limits: DownloadLimits = { ...DOWNLOAD_LIMITS, ...opts.limits };
  const shown = redactUrl(target.url);
  const dir = resolve(target.path, '..');
  for (;;) {
    const cached = await cachedEntry(target, shown);
    if (cached) return cached;
    await makeCacheDir(dir, target.source);
    const lock = await tryLock(target.path, limits);
    if (!lock) {
      await sleep(LOCK_POLL_MS);
      continue;
    }
    try {
      // The holder before us may have just finished.
      return (await cachedEntry(target, shown)) ?? (await downloadInto(target, shown, limits, opts, lock.touch));
    } finally {
      await lock.release();
    }
  }
}

/** How often a thread waiting for another's download looks again. */
const LOCK_POLL_MS = 100;

/** Downloads the target into a `.part` file, checks it, and renames it into the cache; no `.part` survives a failure. */
async function downloadInto(target: RemoteTarget, shown: string, limits: DownloadLimits, opts: ResolveOptions, touch: () => void): Promise<ResolvedWeights> {
  const { url, source, path, expected, preset } = target;
  const fileName = basename(path);
  const dir = resolve(path, '..');
  await removeStaleParts(dir, fileName, limits);
  const partial = `${path}.${process.pid}-${randomUUID()}.part`;
  try {
    const maxBytes = Math.min(limits.maxBytes, expected.bytes ?? Infinity);
    const onProgress = (received: number, total: number | null) => {
      touch();
      opts.onProgress?.(received, total);
    };
    let sha256: string;
    try {
      sha256 = await download(url, shown, partial, limits, maxBytes, onProgress);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EROFS' || code === 'ENOSPC' || code === 'ENOENT') {
        throw new WeightsError(source, `cannot write the weights cache directory ${dir} (${code})`, { cause: error });
      }
      throw error;
    }
    const problem = mismatch(fileName, sha256, (await stat(partial)).size, expected);
    if (problem !== null) throw new WeightsError(shown, `${problem}; the download was deleted`);
    if (expected.sha256 === undefined && hashPrefixOf(fileName) === null) {
      const unreadable = await notACheckpoint(partial, shown);
      if (unreadable !== null) throw new WeightsError(shown, `the download is not a checkpoint (${unreadable}); it was not cached as ${path}`);
    }
    await rename(partial, path);
    return { path, source, sha256, preset };
  } finally {
    await removeQuietly(partial);
  }
}

/**
 * Turn a weights spec into a local file with its SHA-256: a file path or file: URL is read in place; an http(s)
 * URL is downloaded once into `<cacheDir>/weights/<url hash>/<file name>`; a preset name
 * (`torchvision:<arch>[.<VARIANT>]`, see presets.ts) once into `<cacheDir>/weights/torchvision/<file>` from
 * torchvision's folder or `opts.mirror`, verified by its full SHA-256 and byte count where the preset knows them.
 * Throws WeightsError (unknown preset, missing file, failed or over-limit download, hash mismatch, unwritable cache).
 */
export async function resolveWeights(spec: string, opts: ResolveOptions = {}): Promise<ResolvedWeights> {
  if (isPresetName(spec)) {
    const preset = findPreset(spec, opts.presets ?? activePresets());
    const path = presetCachePath(preset, opts.cacheDir);
    return resolveRemote({ url: presetUrl(preset, opts.mirror), source: preset.name, path, expected: preset, preset }, opts);
  }
  const scheme = /^([a-z][a-z0-9+.-]+):\/\//i.exec(spec)?.[1]?.toLowerCase();
  if (scheme === undefined || scheme === 'file') return resolveLocal(spec);
  const shown = redactUrl(spec);
  if (!REMOTE_SCHEMES.has(`${scheme}:`)) throw new WeightsError(shown, `unsupported URL scheme ${scheme}: (use http, https or a file path)`);
  let url: URL;
  try {
    url = new URL(spec);
  } catch (cause) {
    throw new WeightsError(shown, 'is not a valid URL', { cause });
  }
  const fileName = basename(decodeURIComponent(url.pathname)) || 'weights';
  // One directory per URL, so two URLs ending in the same file name never share a cache entry.
  const urlKey = createHash('sha256').update(url.href).digest('hex').slice(0, 16);
  const path = join(cacheRoot(opts), 'weights', urlKey, fileName);
  return resolveRemote({ url: url.href, source: shown, path, expected: {} }, opts);
}
