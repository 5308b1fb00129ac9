/**
 * Minimal synchronous zip reader for torch checkpoints: torch writes uncompressed (stored) entries, usually
 * with zip64 records. Reads the central directory, then hands out entry contents as views of the input
 * (stored) or inflated copies (deflate, for archives re-zipped by other tools).
 *
 * Hostile archives are refused before anything is allocated: every entry's local header must carry the
 * directory's name, every entry must lie inside the file and apart from the others and the directory, and a
 * deflated entry's declared size must be within ZIP_LIMITS and what deflate can produce from its compressed bytes;
 * inflating stops at the declared size.
 */
import { inflateRawSync } from 'node:zlib';
import { WeightsError } from './errors.js';

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
  /** First byte of the entry's data, after its local header (set by readZipDirectory). */
  dataStart: number;
}

/** Largest entry inflated into memory: 16x torchvision's largest MobileNetV3 checkpoint in float64. */
export const ZIP_LIMITS = { maxInflatedBytes: 256 * 1024 * 1024 };
/** deflate cannot expand data by more than about 1032:1 (RFC 1951's longest match per 2-bit code). */
const MAX_DEFLATE_RATIO = 1032;

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;
const ZIP64_EXTRA_ID = 0x0001;
const METHOD_STORED = 0;
const METHOD_DEFLATE = 8;

const utf8 = new TextDecoder('utf-8');

export function looksLikeZip(bytes: Uint8Array): boolean {
  // Local file header, or the end record of an empty archive.
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b &&
    ((bytes[2] === 3 && bytes[3] === 4) || (bytes[2] === 5 && bytes[3] === 6));
}

function u64(view: DataView, offset: number, file: string, what: string): number {
  const value = view.getBigUint64(offset, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new WeightsError(file, `zip ${what} is implausibly large (${value})`);
  return Number(value);
}

function findEndRecord(view: DataView, file: string): number {
  const lowest = Math.max(0, view.byteLength - EOCD_SIZE - MAX_COMMENT);
  for (let pos = view.byteLength - EOCD_SIZE; pos >= lowest; pos--) {
    if (view.getUint32(pos, true) === SIG_EOCD) return pos;
  }
  throw new WeightsError(file, 'truncated zip archive: no end-of-central-directory record (incomplete download?)');
}

interface Directory {
  entryCount: number;
  offset: number;
  size: number;
}

function readDirectoryLocation(view: DataView, file: string): Directory {
  const eocd = findEndRecord(view, file);
  let dir: Directory = {
    entryCount: view.getUint16(eocd + 10, true),
    size: view.getUint32(eocd + 12, true),
    offset: view.getUint32(eocd + 16, true),
  };
  const locator = eocd - 20;
  if (locator >= 0 && view.getUint32(locator, true) === SIG_ZIP64_LOCATOR) {
    const zip64 = u64(view, locator + 8, file, 'zip64 record offset');
    if (zip64 + 56 > view.byteLength || view.getUint32(zip64, true) !== SIG_ZIP64_EOCD) {
      throw new WeightsError(file, 'corrupt zip archive: zip64 end record missing');
    }
    dir = {
      entryCount: u64(view, zip64 + 32, file, 'entry count'),
      size: u64(view, zip64 + 40, file, 'directory size'),
      offset: u64(view, zip64 + 48, file, 'directory offset'),
    };
  }
  if (dir.offset + dir.size > view.byteLength) {
    throw new WeightsError(file, `truncated zip archive: central directory (${dir.offset}+${dir.size}) lies past the end (${view.byteLength} bytes)`);
  }
  return dir;
}

/** The zip64 extra field holds, in order, only those of the three 32-bit fields that are saturated. */
function applyZip64Extra(view: DataView, start: number, end: number, entry: ZipEntry, file: string): void {
  for (let pos = start; pos + 4 <= end;) {
    const id = view.getUint16(pos, true);
    const length = view.getUint16(pos + 2, true);
    if (id === ZIP64_EXTRA_ID) {
      let field = pos + 4;
      const take = (): number => {
        const value = u64(view, field, file, `zip64 field of ${entry.name}`);
        field += 8;
        return value;
      };
      if (entry.size === 0xffffffff) entry.size = take();
      if (entry.compressedSize === 0xffffffff) entry.compressedSize = take();
      if (entry.localHeaderOffset === 0xffffffff) entry.localHeaderOffset = take();
      return;
    }
    pos += 4 + length;
  }
}

/** All entries of the archive by name. */
export function readZipDirectory(bytes: Uint8Array, file: string): Map<string, ZipEntry> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dir = readDirectoryLocation(view, file);
  const entries = new Map<string, ZipEntry>();
  let pos = dir.offset;
  for (let i = 0; i < dir.entryCount; i++) {
    if (pos + 46 > view.byteLength || view.getUint32(pos, true) !== SIG_CENTRAL) {
      throw new WeightsError(file, `corrupt zip archive: central directory entry ${i} not found at byte ${pos}`);
    }
    const flags = view.getUint16(pos + 8, true);
    const nameLength = view.getUint16(pos + 28, true);
    const extraLength = view.getUint16(pos + 30, true);
    const commentLength = view.getUint16(pos + 32, true);
    const entry: ZipEntry = {
      name: utf8.decode(bytes.subarray(pos + 46, pos + 46 + nameLength)),
      method: view.getUint16(pos + 10, true),
      compressedSize: view.getUint32(pos + 20, true),
      size: view.getUint32(pos + 24, true),
      localHeaderOffset: view.getUint32(pos + 42, true),
      dataStart: 0,
    };
    if (flags & 1) throw new WeightsError(file, `zip entry ${entry.name} is encrypted`);
    if (entries.has(entry.name)) throw new WeightsError(file, `corrupt zip archive: two entries named ${entry.name}`);
    applyZip64Extra(view, pos + 46 + nameLength, pos + 46 + nameLength + extraLength, entry, file);
    entry.dataStart = checkLocalHeader(bytes, view, entry, bytes.subarray(pos + 46, pos + 46 + nameLength), file);
    checkDeclaredSizes(entry, bytes.length, file);
    entries.set(entry.name, entry);
    pos += 46 + nameLength + extraLength + commentLength;
  }
  checkNoOverlap([...entries.values()], dir.offset, file);
  return entries;
}

/** The local header must exist and repeat the directory's name; returns where the entry's data starts. */
function checkLocalHeader(bytes: Uint8Array, view: DataView, entry: ZipEntry, centralName: Uint8Array, file: string): number {
  const header = entry.localHeaderOffset;
  if (header + 30 > view.byteLength || view.getUint32(header, true) !== SIG_LOCAL) {
    throw new WeightsError(file, `corrupt zip archive: local header of ${entry.name} not found at byte ${header}`);
  }
  const nameLength = view.getUint16(header + 26, true);
  const localName = bytes.subarray(header + 30, header + 30 + nameLength);
  if (localName.length !== centralName.length || localName.some((b, i) => b !== centralName[i])) {
    throw new WeightsError(file, `corrupt zip archive: entry ${entry.name} has local name ${JSON.stringify(utf8.decode(localName))}`);
  }
  // The local header's extra field can differ from the central one (torch pads it for alignment).
  return header + 30 + nameLength + view.getUint16(header + 28, true);
}

/** Sizes the directory declares, checked before any byte is read or inflated. */
function checkDeclaredSizes(entry: ZipEntry, fileLength: number, file: string): void {
  if (entry.dataStart + entry.compressedSize > fileLength) {
    throw new WeightsError(
      file,
      `truncated zip archive: ${entry.name} needs bytes ${entry.dataStart}..${entry.dataStart + entry.compressedSize} but the file has ${fileLength}`,
    );
  }
  if (entry.method === METHOD_STORED && entry.size !== entry.compressedSize) {
    throw new WeightsError(file, `corrupt zip archive: stored entry ${entry.name} declares ${entry.size} bytes but holds ${entry.compressedSize}`);
  }
  if (entry.method === METHOD_DEFLATE) {
    if (entry.size > ZIP_LIMITS.maxInflatedBytes) {
      throw new WeightsError(file, `zip entry ${entry.name} declares ${entry.size} bytes inflated, over the limit of ${ZIP_LIMITS.maxInflatedBytes}: refused`);
    }
    if (entry.size > entry.compressedSize * MAX_DEFLATE_RATIO) {
      throw new WeightsError(file, `corrupt zip archive: ${entry.name} declares ${entry.size} bytes from ${entry.compressedSize} deflated, more than deflate can produce`);
    }
  }
}

/** Entries pointing into each other's bytes (or the directory's) would load one record's data as another's. */
function checkNoOverlap(entries: ZipEntry[], directoryOffset: number, file: string): void {
  const spans = entries
    .map((entry) => ({ entry, start: entry.localHeaderOffset, end: entry.dataStart + entry.compressedSize }))
    .sort((a, b) => a.start - b.start);
  for (let i = 0; i < spans.length; i++) {
    const next = spans[i + 1];
    if (next && next.start < spans[i].end) {
      throw new WeightsError(file, `corrupt zip archive: entries ${spans[i].entry.name} and ${next.entry.name} overlap`);
    }
    if (spans[i].end > directoryOffset) {
      throw new WeightsError(file, `corrupt zip archive: entry ${spans[i].entry.name} overlaps the central directory`);
    }
  }
}

/** The entry's uncompressed bytes (a view into `bytes` when stored); `entry` comes from readZipDirectory. */
export function readZipEntry(bytes: Uint8Array, entry: ZipEntry, file: string): Uint8Array {
  const raw = bytes.subarray(entry.dataStart, entry.dataStart + entry.compressedSize);
  if (entry.method === METHOD_STORED) return raw;
  if (entry.method === METHOD_DEFLATE) {
    let inflated: Buffer;
    try {
      // One byte over the declared size is enough to know the directory lied; never more is allocated.
      inflated = inflateRawSync(raw, { maxOutputLength: entry.size + 1 });
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new WeightsError(file, `zip entry ${entry.name} inflates past its declared ${entry.size} bytes: refused`, { cause });
      }
      throw new WeightsError(file, `zip entry ${entry.name} does not inflate: ${(cause as Error).message}`, { cause });
    }
    if (inflated.length !== entry.size) {
      throw new WeightsError(file, `zip entry ${entry.name} inflates to ${inflated.length} bytes, directory says ${entry.size}`);
    }
    return new Uint8Array(inflated.buffer, inflated.byteOffset, inflated.byteLength);
  }
  throw new WeightsError(file, `zip entry ${entry.name} uses unsupported compression method ${entry.method}`);
}
