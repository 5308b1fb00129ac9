/**
 * Hostile checkpoints, each built small with the structure of the real attack: pickles that push, memoise
 * or run without end, zip entries that lie about their sizes, names or places. Each must be a WeightsError (exit 3
 * through the built CLI), never a V8 fatal error, and nothing in a pickle is ever executed.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { deflateRawSync } from 'node:zlib';
import { WeightsError } from '../model/weights/errors.js';
import { PICKLE_LIMITS } from '../model/weights/pickle.js';
import { readPth } from '../model/weights/pth.js';
import { ZIP_LIMITS } from '../model/weights/zip.js';
import { runCli, tempDir } from './cli-helpers.js';

interface EntrySpec {
  name: string;
  data: Uint8Array;
  deflate?: boolean;
  /** Size the directory declares (default: the true one). */
  declaredSize?: number;
  /** Name written in the local header (default: `name`). */
  localName?: string;
}

/** A zip as a foreign writer might make it, with each lie the spec asks for. */
function makeZip(entries: EntrySpec[]): Buffer {
  const parts: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const body = entry.deflate ? deflateRawSync(entry.data) : Buffer.from(entry.data);
    const name = Buffer.from(entry.name);
    const localName = Buffer.from(entry.localName ?? entry.name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(entry.deflate ? 8 : 0, 8);
    local.writeUInt16LE(localName.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(entry.deflate ? 8 : 0, 10);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(entry.declaredSize ?? entry.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    parts.push(local, localName, body);
    centrals.push(central, name);
    offset += 30 + localName.length + body.length;
  }
  return withDirectory(Buffer.concat(parts), centrals, entries.length);
}

function withDirectory(body: Buffer, centrals: Buffer[], count: number): Buffer {
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(count, 8);
  end.writeUInt16LE(count, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(body.length, 16);
  return Buffer.concat([body, directory, end]);
}

/** A torch-like zip whose data.pkl is `pickle`, deflated so a pickle of millions of ops stays a few kilobytes. */
const pickleZip = (pickle: Uint8Array): Buffer => makeZip([{ name: 'archive/data.pkl', data: pickle, deflate: true }]);

/** PROTO 2, `body` repeated `times`, then `tail`. */
function repeated(body: number[], times: number, tail: number[] = []): Buffer {
  const out = Buffer.alloc(2 + body.length * times + tail.length);
  out[0] = 0x80;
  out[1] = 0x02;
  for (let i = 0; i < times; i++) out.set(body, 2 + i * body.length);
  out.set(tail, 2 + body.length * times);
  return out;
}

const NONE = 0x4e;
const POP = 0x30;
const MARK = 0x28;
const MEMOIZE = 0x94;
const STOP = 0x2e;
const EMPTY_DICT = 0x7d;

/** One entry's bytes placed inside another's: the directory's second entry points into the first one's data. */
function overlappingZip(): Buffer {
  const innerName = Buffer.from('archive/data/1');
  const innerLocal = Buffer.alloc(30);
  innerLocal.writeUInt32LE(0x04034b50, 0);
  innerLocal.writeUInt16LE(innerName.length, 26);
  const innerData = Buffer.alloc(16, 7);
  const outerData = Buffer.concat([innerLocal, innerName, innerData]);
  const outerName = Buffer.from('archive/data/0');
  const outerLocal = Buffer.alloc(30);
  outerLocal.writeUInt32LE(0x04034b50, 0);
  outerLocal.writeUInt16LE(outerName.length, 26);
  const central = (name: Buffer, size: number, at: number): Buffer[] => {
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt32LE(size, 20);
    c.writeUInt32LE(size, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt32LE(at, 42);
    return [c, name];
  };
  const body = Buffer.concat([outerLocal, outerName, outerData]);
  return withDirectory(body, [...central(outerName, outerData.length, 0), ...central(innerName, innerData.length, 30 + outerName.length)], 2);
}

const TEN_MB_OF_ZEROS = new Uint8Array(10 * 1024 * 1024);

/** [what, file bytes, expected message after "<file>: "] */
const HOSTILE: [string, () => Buffer, string | RegExp][] = [
  ['a pickle that never stops (op count)', () => pickleZip(repeated([NONE, POP], PICKLE_LIMITS.maxOps / 2 + 1, [NONE, STOP])),
    /^pickle: more than 5000000 opcodes: refused \(at byte \d+\)$/],
  ['a pickle that pushes without end (stack depth)', () => pickleZip(repeated([NONE], PICKLE_LIMITS.maxStack + 1, [STOP])),
    /^pickle: stack deeper than 1000000 values: refused \(at byte \d+\)$/],
  ['a pickle that opens MARKs without end', () => pickleZip(repeated([MARK], PICKLE_LIMITS.maxStack + 1, [STOP])),
    /^pickle: more than 1000000 open MARKs: refused \(at byte \d+\)$/],
  ['a pickle that memoises without end (memo size)', () => pickleZip(Buffer.concat([Buffer.from([0x80, 0x02, NONE]), repeated([MEMOIZE], PICKLE_LIMITS.maxMemo + 1, [STOP]).subarray(2)])),
    /^pickle: memo larger than 1000000 entries: refused \(at byte \d+\)$/],
  ['a deflated entry declaring more than the cap', () => makeZip([{ name: 'archive/data.pkl', data: TEN_MB_OF_ZEROS, deflate: true, declaredSize: ZIP_LIMITS.maxInflatedBytes + 1 }]),
    `zip entry archive/data.pkl declares ${ZIP_LIMITS.maxInflatedBytes + 1} bytes inflated, over the limit of ${ZIP_LIMITS.maxInflatedBytes}: refused`],
  ['a deflated entry declaring more than deflate can produce', () => makeZip([{ name: 'archive/data.pkl', data: Uint8Array.of(1, 2, 3), deflate: true, declaredSize: 100_000_000 }]),
    /^corrupt zip archive: archive\/data\.pkl declares 100000000 bytes from \d+ deflated, more than deflate can produce$/],
  ['a deflated entry inflating past its declared size', () => makeZip([{ name: 'archive/data.pkl', data: TEN_MB_OF_ZEROS, deflate: true, declaredSize: 1000 }]),
    'zip entry archive/data.pkl inflates past its declared 1000 bytes: refused'],
  ['a stored entry whose sizes disagree', () => makeZip([{ name: 'archive/data.pkl', data: Uint8Array.of(0x80, 2, NONE, STOP), declaredSize: 1 << 30 }]),
    'corrupt zip archive: stored entry archive/data.pkl declares 1073741824 bytes but holds 4'],
  ['a local header naming another file', () => makeZip([{ name: 'archive/data.pkl', data: Uint8Array.of(0x80, 2, EMPTY_DICT, STOP), localName: 'archive/evil.pkl' }]),
    'corrupt zip archive: entry archive/data.pkl has local name "archive/evil.pkl"'],
  ['a directory entry pointing into another entry', overlappingZip,
    'corrupt zip archive: entries archive/data/0 and archive/data/1 overlap'],
  ['two entries of the same name', () => makeZip([
    { name: 'archive/data.pkl', data: Uint8Array.of(0x80, 2, EMPTY_DICT, STOP) },
    { name: 'archive/data.pkl', data: Uint8Array.of(0x80, 2, NONE, STOP) },
  ]), 'corrupt zip archive: two entries named archive/data.pkl'],
];

function assertRefused(bytes: Uint8Array, message: string | RegExp): void {
  assert.throws(() => readPth(bytes, 'hostile.pth'), (error: unknown) => {
    assert.ok(error instanceof WeightsError, `expected a WeightsError, got ${String(error)}`);
    assert.equal(error.file, 'hostile.pth');
    if (typeof message === 'string') assert.equal(error.problem, message);
    else assert.match(error.problem, message);
    return true;
  });
}

describe('hostile checkpoints are refused as WeightsErrors', () => {
  for (const [what, build, message] of HOSTILE) {
    it(what, () => {
      const bytes = build();
      assert.ok(bytes.length < 64 * 1024, `the hostile file stays small (${bytes.length} bytes)`);
      assertRefused(bytes, message);
    });
  }

  for (const callable of ['os\nsystem', 'builtins\neval', 'builtins\nexec', 'subprocess\nPopen']) {
    it(`a pickle calling ${callable.replace('\n', '.')} is read as an inert object, never run`, async () => {
      const { dir, cleanup } = await tempDir('evil');
      try {
        const marker = path.join(dir, 'ran');
        const command = Buffer.from(`touch ${marker}`);
        // {'model': <callable>('touch <marker>')}: GLOBAL, BINUNICODE arg, TUPLE1, REDUCE, inside a dict.
        const pickle = Buffer.concat([
          Buffer.from([0x80, 0x02, EMPTY_DICT, 0x58, 5, 0, 0, 0]), Buffer.from('model'),
          Buffer.from(`c${callable}\n`, 'latin1'),
          Buffer.from([0x58, command.length, 0, 0, 0]), command,
          Buffer.from([0x85, 0x52, 0x73, STOP]),
        ]);
        const qualified = callable.replace('\n', '.');
        assertRefused(
          makeZip([{ name: 'archive/data.pkl', data: pickle }]),
          `not a state dict: entry "model" holds a ${qualified} object, and no "state_dict"/"model"/"model_state_dict" entry wraps one`,
        );
        assert.equal(existsSync(marker), false);
      } finally {
        await cleanup();
      }
    });
  }
});

describe('hostile checkpoints through the built CLI', () => {
  // One of each kind (pickle bound, zip size bound, zip layout check): every CLI start costs seconds on a loaded machine.
  const THROUGH_CLI = new Set(['a pickle that never stops (op count)', 'a deflated entry declaring more than the cap', 'a directory entry pointing into another entry']);

  it('each kind is exit 3 with one line naming the file, never a crash', async () => {
    const { dir, cleanup } = await tempDir('hostile');
    try {
      for (const [what, build] of HOSTILE.filter(([name]) => THROUGH_CLI.has(name))) {
        const file = path.join(dir, `${what.replace(/\W+/g, '_')}.pth`);
        await writeFile(file, build());
        const run = await runCli(['weights', 'inspect', file]);
        assert.equal(run.code, 3, `${what}: ${run.stderr}`);
        const lines = run.stderr.trimEnd().split('\n');
        assert.equal(lines.length, 1, `${what}: ${run.stderr}`);
        assert.ok(lines[0].startsWith(`cityseg: ${file}: `), `${what}: ${lines[0]}`);
      }
    } finally {
      await cleanup();
    }
  });
});
