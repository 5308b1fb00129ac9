/**
 * The pickle VM against CPython's own pickles (protocols 2–5 of one nested object, from
 * scripts/make_fixtures.py) and against hand-made malformed pickles.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { WeightsError } from '../model/weights/errors.js';
import { PyDict, PyGlobal, PyObject, unpickle } from '../model/weights/pickle.js';

const cases = JSON.parse(await readFile(new URL('./fixtures/weights/pickles.json', import.meta.url), 'utf8')) as {
  protocol: number;
  hex: string;
  expected: unknown;
}[];

const noHooks = { persistentLoad: () => assert.fail('no persistent ids expected') };

/** The same JSON shape the generator wrote: dicts as objects, tuples as lists, big ints and bytes as strings. */
function toJson(value: unknown): unknown {
  if (value instanceof PyDict) return Object.fromEntries([...value.items].map(([k, v]) => [String(k), toJson(v)]));
  if (Array.isArray(value)) return value.map(toJson);
  if (value instanceof Uint8Array) return 'bytes:' + Buffer.from(value).toString('hex');
  if (typeof value === 'bigint') return `big:${value}`;
  return value;
}

function pickleOf(...bytes: number[]): Uint8Array {
  return Uint8Array.from(bytes);
}

describe('unpickle', () => {
  for (const c of cases) {
    it(`reads CPython protocol ${c.protocol} exactly`, () => {
      const value = unpickle(Buffer.from(c.hex, 'hex'), 'sample', noHooks);
      assert.deepEqual(toJson(value), c.expected);
    });
  }

  it('keeps memoised objects shared (BINPUT/BINGET)', () => {
    const value = unpickle(Buffer.from(cases[0].hex, 'hex'), 'sample', noHooks) as PyDict;
    const shared = value.items.get('shared') as unknown[];
    assert.equal(shared[0], shared[1]);
  });

  it('turns unknown callables into inert objects instead of executing them', () => {
    // GLOBAL os.system, ('echo',), REDUCE, STOP
    const bytes = Buffer.concat([
      Buffer.from([0x80, 0x02]),
      Buffer.from('cos\nsystem\n', 'latin1'),
      Buffer.from([0x58, 4, 0, 0, 0]),
      Buffer.from('echo'),
      Buffer.from([0x85, 0x52, 0x2e]),
    ]);
    const value = unpickle(bytes, 'evil.pth', noHooks);
    assert.ok(value instanceof PyObject);
    assert.ok(value.callable instanceof PyGlobal);
    assert.equal(value.callable.qualifiedName, 'os.system');
    assert.deepEqual(value.args, ['echo']);
  });

  const malformed: [string, Uint8Array, string][] = [
    ['unknown opcode', pickleOf(0x80, 0x02, 0xff), "evil.pth: pickle: unsupported opcode 0xff (at byte 2)"],
    ['protocol too new', pickleOf(0x80, 0x06, 0x4e, 0x2e), 'evil.pth: pickle: pickle protocol 6 is newer than 5 (at byte 2)'],
    ['STOP on an empty stack', pickleOf(0x80, 0x02, 0x2e), 'evil.pth: pickle: stack underflow (at byte 3)'],
    ['no STOP', pickleOf(0x80, 0x02, 0x4e), 'evil.pth: pickle: truncated: needs 1 more bytes, 0 left (at byte 3)'],
    ['string longer than the data', pickleOf(0x80, 0x02, 0x58, 0xff, 0, 0, 0, 0x41), 'evil.pth: pickle: truncated: needs 255 more bytes, 1 left (at byte 7)'],
    ['BINGET of an unknown memo slot', pickleOf(0x80, 0x02, 0x68, 0x07, 0x2e), 'evil.pth: pickle: memo entry 7 was never stored (at byte 4)'],
    ['SETITEMS on a list', pickleOf(0x80, 0x02, 0x5d, 0x28, 0x4b, 1, 0x4b, 2, 0x75, 0x2e), 'evil.pth: pickle: SETITEMS on a list/tuple (at byte 9)'],
    ['TUPLE without MARK', pickleOf(0x80, 0x02, 0x74, 0x2e), 'evil.pth: pickle: MARK expected but none is open (at byte 3)'],
  ];
  for (const [what, bytes, message] of malformed) {
    it(`rejects ${what} with a WeightsError`, () => {
      assert.throws(() => unpickle(bytes, 'evil.pth', noHooks), (error: unknown) => {
        assert.ok(error instanceof WeightsError);
        assert.equal(error.message, message);
        return true;
      });
    });
  }
});
