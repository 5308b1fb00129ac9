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
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, fetch } from 'undici';
import { WeightsError } from './errors.js';
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

/** The code or name of the innermost cause: undici wraps its errors in `fetch failed` / `terminated`. */
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
    case 'UND_ERR_CONNECT_TIMEOUT':
      return `could not connect within ${limits.connectTimeoutMs} ms`;
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return `no data for ${limits.idleTimeoutMs} ms (idle timeout)`;
    default:
      // The URL before the message already names the host: the code says the rest (ENOTFOUND, ECONNREFUSED).
      if (code !== undefined) return code;
      return name && name !== 'Error' && name !== 'TypeError' ? `${name}: ${message}` : message;
  }
}

/** `.part` files of `fileName` that nobody has written to for longer than an active download would pause. */
async function removeStaleParts(dir: string, fileName: string, limits: DownloadLimits): Promise<void> {
  const staleBefore = Date.now() - (limits.connectTimeoutMs + 2 * limits.idleTimeoutMs);
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
  const agent = new Agent({ connect: { timeout: limits.connectTimeoutMs }, headersTimeout: limits.idleTimeoutMs, bodyTimeout: limits.idleTimeoutMs });
  const deadline = AbortSignal.timeout(limits.deadlineMs);
  // fetch refuses URLs with credentials: they become Basic authentication, as curl and torch.hub's urllib do.
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
  try {
    let response: Awaited<ReturnType<typeof fetch>>;
    try {
      response = await fetch(target.href, { redirect: 'follow', dispatcher: agent, signal: deadline, headers });
    } catch (cause) {
      throw new WeightsError(shown, `download failed: ${failure(cause)}`, { cause });
    }
    if (!response.ok || !response.body) {
      await response.body?.cancel().catch(() => undefined);
      throw new WeightsError(shown, `download failed: HTTP ${response.status} ${response.statusText}`.trimEnd());
    }
    const lengthHeader = response.headers.get('content-length');
    const total = lengthHeader === null ? null : Number(lengthHeader);
    if (total !== null && total > maxBytes) {
      await response.body.cancel().catch(() => undefined);
      throw new WeightsError(shown, `download refused: ${total} bytes announced, over the limit of ${maxBytes} bytes`);
    }
    const hash = createHash('sha256');
    const file = await open(path, 'w');
    const reader = response.body.getReader();
    try {
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        received += chunk.value.length;
        if (received > maxBytes) {
          await reader.cancel().catch(() => undefined);
          throw new WeightsError(shown, `download stopped: more than the limit of ${maxBytes} bytes`);
        }
        hash.update(chunk.value);
        await file.write(chunk.value);
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
    await agent.destroy().catch(() => undefined);
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

async function resolveRemote(target: RemoteTarget, opts: ResolveOptions): Promise<ResolvedWeights> {
  const { url, source, path, expected, preset } = target;
  const fileName = basename(path);
  const shown = redactUrl(url);
  if (await isFile(path)) {
    const sha256 = await sha256File(path);
    const size = (await stat(path)).size;
    if (mismatch(fileName, sha256, size, expected) === null) return { path, source, sha256, preset };
    await removeQuietly(path); // a corrupted cache entry: fetch it again
  }

  const limits: DownloadLimits = { ...DOWNLOAD_LIMITS, ...opts.limits };
  const dir = resolve(path, '..');
  await makeCacheDir(dir, source);
  await removeStaleParts(dir, fileName, limits);
  const partial = `${path}.${process.pid}-${randomUUID()}.part`;
  try {
    const maxBytes = Math.min(limits.maxBytes, expected.bytes ?? Infinity);
    let sha256: string;
    try {
      sha256 = await download(url, shown, partial, limits, maxBytes, opts.onProgress);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EROFS' || code === 'ENOSPC' || code === 'ENOENT') {
        throw new WeightsError(source, `cannot write the weights cache directory ${dir} (${code})`, { cause: error });
      }
      throw error;
    }
    const problem = mismatch(fileName, sha256, (await stat(partial)).size, expected);
    if (problem !== null) throw new WeightsError(shown, `${problem}; the download was deleted`);
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
