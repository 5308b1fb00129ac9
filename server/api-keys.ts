import { createHash, timingSafeEqual } from 'node:crypto';

/** The API keys the service accepts, as sha256 digests (the keys themselves are never kept). */
export interface ApiKeys {
  /** The file they were read from, for messages. */
  file: string;
  /** Lower-case hex sha256 of each distinct key. */
  sha256: string[];
}

/** A line of the API keys file that is not a key: the message names the file and line, never the line's text. */
export class ApiKeyFileError extends Error {
  readonly file: string;
  constructor(file: string, detail: string) {
    super(`API keys file '${file}': ${detail}`);
    this.file = file;
    this.name = 'ApiKeyFileError';
  }
}

/** RFC 6750's b64token: what a client can send after `Bearer ` unquoted. */
const BEARER_TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const SHA256_LINE = /^sha256:([0-9a-f]{64})$/i;

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/**
 * Parses an API keys file: one key per line, either the key itself or `sha256:<64 hex digits>` of its UTF-8
 * bytes (so the file need not hold the secret); blank lines and lines starting with `#` are skipped.
 * Throws ApiKeyFileError for a malformed line or a file without keys.
 */
export function parseApiKeyFile(file: string, text: string): ApiKeys {
  const digests = new Set<string>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const hashed = SHA256_LINE.exec(line);
    if (hashed) digests.add(hashed[1].toLowerCase());
    else if (line.toLowerCase().startsWith('sha256:')) {
      throw new ApiKeyFileError(file, `line ${index + 1}: sha256: must be followed by 64 hex digits`);
    } else if (!BEARER_TOKEN.test(line)) {
      throw new ApiKeyFileError(file, `line ${index + 1}: a key may hold only letters, digits and -._~+/ (then =), as a Bearer token`);
    } else digests.add(sha256(line).toString('hex'));
  });
  if (digests.size === 0) throw new ApiKeyFileError(file, 'holds no keys (one per line: the key, or sha256:<hex> of it)');
  return { file, sha256: [...digests] };
}

const BEARER = /^Bearer +(\S+) *$/i;

/**
 * Checks `Authorization: Bearer <key>` against the configured keys in constant time: the presented key is hashed
 * and its digest compared with every configured digest by crypto.timingSafeEqual, without stopping at a match.
 */
export class ApiKeyVerifier {
  readonly #digests: Buffer[];
  /** Each request's verdict: the rate limit's bucket and the key check ask about the same request. */
  readonly #verdicts = new WeakMap<object, string | null>();

  constructor(keys: ApiKeys) {
    this.#digests = keys.sha256.map((hex) => Buffer.from(hex, 'hex'));
  }

  /** verify() of a request's Authorization header, hashed once per request however often it is asked. */
  verifyRequest(request: { headers: { authorization?: string } }): string | null {
    let verdict = this.#verdicts.get(request);
    if (verdict === undefined) {
      verdict = this.verify(request.headers.authorization);
      this.#verdicts.set(request, verdict);
    }
    return verdict;
  }

  /** The matching key's id (`key:` + 12 hex digits of its digest, safe to use as a bucket name), or null. */
  verify(authorization: string | undefined): string | null {
    const token = authorization === undefined ? undefined : BEARER.exec(authorization)?.[1];
    if (token === undefined) return null;
    const presented = sha256(token);
    let match: Buffer | null = null;
    for (const digest of this.#digests) {
      if (timingSafeEqual(presented, digest)) match = digest;
    }
    return match && `key:${match.toString('hex', 0, 6)}`;
  }
}

const verifiers = new WeakMap<ApiKeys, ApiKeyVerifier>();

/** The one verifier of a set of keys, shared by every plugin that checks them (so a request is hashed once). */
export function apiKeyVerifier(keys: ApiKeys): ApiKeyVerifier {
  let verifier = verifiers.get(keys);
  if (verifier === undefined) {
    verifier = new ApiKeyVerifier(keys);
    verifiers.set(keys, verifier);
  }
  return verifier;
}
