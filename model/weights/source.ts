/**
 * Where weights come from: a local file, or an http(s) URL downloaded once into a cache directory.
 * Downloads go to a temporary file that is renamed into place only when complete (and verified), so an
 * interrupted or concurrent download never leaves a half-written checkpoint where the cache looks.
 * Like torch.hub, a file name carrying a hash (`name-<hex>.pth`) must match the file's SHA-256 prefix.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WeightsError } from './errors.js';

export interface ResolvedWeights {
  /** Absolute path of the local file to read. */
  path: string;
  /** What the user asked for (path or URL), for reports. */
  source: string;
  /** SHA-256 of the file, hex. */
  sha256: string;
}

export interface ResolveOptions {
  /** Overrides CITYSEG_CACHE_DIR and the XDG default. */
  cacheDir?: string;
  /** Called as download bytes arrive; `total` is null without a Content-Length. */
  onProgress?: (received: number, total: number | null) => void;
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

function checkHash(fileName: string, sha256: string): string | null {
  const prefix = hashPrefixOf(fileName);
  return prefix === null || sha256.startsWith(prefix) ? null : prefix;
}

async function resolveLocal(spec: string): Promise<ResolvedWeights> {
  const path = resolve(spec.startsWith('file:') ? fileURLToPath(spec) : spec);
  const info = await stat(path).catch((cause: NodeJS.ErrnoException) => {
    throw new WeightsError(spec, cause.code === 'ENOENT' ? 'file not found' : cause.message, { cause });
  });
  if (!info.isFile()) throw new WeightsError(spec, 'is not a regular file');
  return { path, source: spec, sha256: await sha256File(path) };
}

/** Stream the response body into `path`, hashing as it goes; returns the SHA-256. */
async function download(url: string, path: string, onProgress: ResolveOptions['onProgress']): Promise<string> {
  let response: Response;
  try {
    response = await fetch(url, { redirect: 'follow' });
  } catch (cause) {
    const reason = (cause as { cause?: { code?: string; message?: string } }).cause;
    throw new WeightsError(url, `download failed: ${reason?.code ?? reason?.message ?? (cause as Error).message}`, { cause });
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new WeightsError(url, `download failed: HTTP ${response.status} ${response.statusText}`.trimEnd());
  }
  const lengthHeader = response.headers.get('content-length');
  const total = lengthHeader === null ? null : Number(lengthHeader);
  const hash = createHash('sha256');
  const file = await open(path, 'w');
  let received = 0;
  try {
    const reader = response.body.getReader();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      hash.update(chunk.value);
      await file.write(chunk.value);
      received += chunk.value.length;
      onProgress?.(received, total);
    }
  } catch (cause) {
    throw new WeightsError(url, `download interrupted after ${received} bytes: ${(cause as Error).message}`, { cause });
  } finally {
    await file.close();
  }
  if (total !== null && received !== total) {
    throw new WeightsError(url, `download incomplete: got ${received} of ${total} bytes`);
  }
  return hash.digest('hex');
}

async function resolveRemote(spec: string, url: URL, opts: ResolveOptions): Promise<ResolvedWeights> {
  const fileName = basename(decodeURIComponent(url.pathname)) || 'weights';
  // One directory per URL, so two URLs ending in the same file name never share a cache entry.
  const urlKey = createHash('sha256').update(url.href).digest('hex').slice(0, 16);
  const dir = join(opts.cacheDir ? resolve(opts.cacheDir) : defaultCacheDir(), 'weights', urlKey);
  const path = join(dir, fileName);

  if (await isFile(path)) {
    const sha256 = await sha256File(path);
    if (checkHash(fileName, sha256) === null) return { path, source: spec, sha256 };
    await removeQuietly(path); // a corrupted cache entry: fetch it again
  }

  await mkdir(dir, { recursive: true });
  const partial = `${path}.${process.pid}-${randomUUID()}.part`;
  try {
    const sha256 = await download(url.href, partial, opts.onProgress);
    const expected = checkHash(fileName, sha256);
    if (expected !== null) {
      throw new WeightsError(url.href, `SHA-256 ${sha256} does not start with ${expected} from the file name; the download was deleted`);
    }
    await rename(partial, path);
    return { path, source: spec, sha256 };
  } finally {
    await removeQuietly(partial);
  }
}

/**
 * Turn a weights spec (file path, file: URL, or http(s) URL) into a local file with its SHA-256.
 * URLs are downloaded once into `<cacheDir>/weights/<url hash>/<file name>` and reused afterwards.
 */
export async function resolveWeights(spec: string, opts: ResolveOptions = {}): Promise<ResolvedWeights> {
  const scheme = /^([a-z][a-z0-9+.-]+):\/\//i.exec(spec)?.[1]?.toLowerCase();
  if (scheme === undefined || scheme === 'file') return resolveLocal(spec);
  if (!REMOTE_SCHEMES.has(`${scheme}:`)) throw new WeightsError(spec, `unsupported URL scheme ${scheme}: (use http, https or a file path)`);
  let url: URL;
  try {
    url = new URL(spec);
  } catch (cause) {
    throw new WeightsError(spec, 'is not a valid URL', { cause });
  }
  return resolveRemote(spec, url, opts);
}
