/**
 * readPth against checkpoints written by torch 1.13 (scripts/make_fixtures.py): strided views, every dtype,
 * wrappers, other zip writers and byte orders; and against damaged or foreign files, which must fail with a
 * WeightsError saying what is wrong.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WeightsError } from '../model/weights/errors.js';
import { readPth } from '../model/weights/pth.js';
import type { StateDict } from '../model/weights/state-dict.js';
import { readZipDirectory, readZipEntry } from '../model/weights/zip.js';

const dir = fileURLToPath(new URL('./fixtures/weights/', import.meta.url));
const parityDir = fileURLToPath(new URL('./fixtures/parity/', import.meta.url));

interface ExpectedTensors {
  tensors: Record<string, { shape: number[]; dtype: string; values: (number | string)[] }>;
}

const fixture = (name: string): Promise<Buffer> => readFile(dir + name);
const expectedOf = async (name: string): Promise<ExpectedTensors> => JSON.parse(await readFile(dir + name, 'utf8')) as ExpectedTensors;

function fromJson(value: number | string): number {
  const special: Record<string, number> = { nan: NaN, inf: Infinity, '-inf': -Infinity };
  return typeof value === 'string' ? special[value] : value;
}

/** Exact comparison: assert.equal is Object.is, so NaN matches NaN and -0 differs from 0. */
function assertMatches(sd: StateDict, expected: ExpectedTensors): void {
  assert.deepEqual([...sd.keys()], Object.keys(expected.tensors), 'tensor names in order');
  for (const [name, want] of Object.entries(expected.tensors)) {
    const got = sd.get(name)!;
    assert.deepEqual(got.shape, want.shape, `${name} shape`);
    assert.ok(got.data instanceof Float32Array, `${name} is float32`);
    assert.equal(got.data.length, want.values.length, `${name} length`);
    want.values.forEach((v, i) => assert.equal(got.data[i], fromJson(v), `${name}[${i}] (${want.dtype})`));
  }
}

/** A stored (uncompressed) zip of the given entries, the way a foreign tool might write one. */
function makeZip(entries: [string, Uint8Array][]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const nameBytes = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, Buffer.from(data));
    centrals.push(central, nameBytes);
    offset += 30 + nameBytes.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** The entries of a real checkpoint, to rebuild it with one part changed. */
function entriesOf(bytes: Uint8Array): [string, Uint8Array][] {
  return [...readZipDirectory(bytes, 'fixture').values()].map((e) => [e.name, readZipEntry(bytes, e, 'fixture')]);
}

function assertWeightsError(bytes: Uint8Array, file: string, message: string | RegExp): void {
  assert.throws(() => readPth(bytes, file), (error: unknown) => {
    assert.ok(error instanceof WeightsError, `expected a WeightsError, got ${String(error)}`);
    if (typeof message === 'string') assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

describe('readPth: what torch writes', () => {
  it('materialises transposed, sliced, shared, broadcast and parameter tensors and every dtype exactly', async () => {
    assertMatches(readPth(await fixture('views.pth'), 'views.pth'), await expectedOf('views.json'));
  });

  it('gives a shared storage to both views without mixing them up', async () => {
    const sd = readPth(await fixture('views.pth'));
    assert.deepEqual(Array.from(sd.get('shared_window')!.data), Array.from(sd.get('shared_whole')!.data.subarray(3, 7)));
  });

  for (const [file, why] of [
    ['wrapped_state_dict.pth', '{state_dict, epoch, args: Namespace, ...} is unwrapped'],
    ['wrapped_model.pth', '{model, optimizer} is unwrapped'],
    ['deflated.pth', 'a deflate-compressed re-zip by Python zipfile'],
    ['bigendian.pth', 'byteorder "big" with byte-swapped storages'],
    ['protocol4.pth', 'pickle protocol 4 (FRAME, MEMOIZE, SHORT_BINUNICODE)'],
  ]) {
    it(`${file}: ${why}`, async () => {
      assertMatches(readPth(await fixture(file), file), await expectedOf('small.json'));
    });
  }

  it('reads a checkpoint written by another zip writer with the same result', async () => {
    const original = await fixture('views.pth');
    const rezipped = makeZip(entriesOf(original));
    assertMatches(readPth(rezipped), await expectedOf('views.json'));
  });
});

describe('readPth: bad files', () => {
  it('empty file', () => assertWeightsError(new Uint8Array(0), 'e.pth', 'e.pth: empty file'));

  it('random bytes', () => {
    let state = 12345;
    const noise = Uint8Array.from({ length: 4096 }, () => (state = (state * 1103515245 + 12345) >>> 0) >>> 24);
    assertWeightsError(noise, 'noise.pth', 'noise.pth: not a zip archive, so not a torch.save checkpoint');
  });

  it('truncated download of a real checkpoint', async () => {
    const full = await readFile(parityDir + 'lraspp_mobilenet_v3_small.pth');
    const half = full.subarray(0, full.length >> 1);
    assertWeightsError(half, 'part.pth', 'part.pth: truncated zip archive: no end-of-central-directory record (incomplete download?)');
  });

  it('zip without data.pkl', async () => {
    assertWeightsError(
      await fixture('no_data_pkl.pth'),
      'no_data_pkl.pth',
      'no_data_pkl.pth: not a torch checkpoint: zip archive has no <prefix>/data.pkl (found archive/version, archive/data/0)',
    );
  });

  it('a legacy-format file holding no state dict', async () => {
    assertWeightsError(
      await fixture('legacy.pth'),
      'legacy.pth',
      'legacy.pth: not a state dict: entry "epoch" holds a number, and no "state_dict"/"model"/"model_state_dict" entry wraps one',
    );
  });

  it('TorchScript archive', async () => {
    assertWeightsError(await fixture('torchscript.pt'), 'ts.pt', /^ts\.pt: is a TorchScript archive \(torch\.jit\.save\), not a state dict/);
  });

  it('a whole pickled module', async () => {
    assertWeightsError(
      await fixture('whole_module.pth'),
      'm.pth',
      'm.pth: holds a pickled torch.nn.modules.linear.Linear object, not a state dict; save model.state_dict() instead',
    );
  });

  it('a bare tensor', async () => {
    assertWeightsError(await fixture('bare_tensor.pth'), 't.pth', 't.pth: holds a single tensor, not a state dict');
  });

  it('a dict of non-tensors without a wrapper key', () => {
    // {'epoch': 7}: PROTO 2, EMPTY_DICT, BINUNICODE 'epoch', BININT1 7, SETITEM, STOP
    const pkl = Buffer.concat([Buffer.from([0x80, 0x02, 0x7d, 0x58, 5, 0, 0, 0]), Buffer.from('epoch'), Buffer.from([0x4b, 7, 0x73, 0x2e])]);
    assertWeightsError(
      makeZip([['archive/data.pkl', pkl]]),
      'meta.pth',
      'meta.pth: not a state dict: entry "epoch" holds a number, and no "state_dict"/"model"/"model_state_dict" entry wraps one',
    );
  });

  it('a storage record shorter than its tensor', async () => {
    const entries = entriesOf(await fixture('views.pth')).map(([name, data]): [string, Uint8Array] =>
      name === 'views/data/0' ? [name, data.subarray(0, 20)] : [name, data]);
    assertWeightsError(
      makeZip(entries),
      'short.pth',
      'short.pth: tensor transposed (shape [4,3], stride [1,4], offset 0) reads element 11 of storage 0, which holds 5 float32 values',
    );
  });

  it('a missing storage record', async () => {
    const entries = entriesOf(await fixture('views.pth')).filter(([name]) => name !== 'views/data/1');
    assertWeightsError(makeZip(entries), 'gap.pth', 'gap.pth: tensor sliced: storage record views/data/1 is missing');
  });

  it('an unsupported storage type', async () => {
    const entries = entriesOf(await fixture('views.pth')).map(([name, data]): [string, Uint8Array] =>
      name === 'views/data.pkl' ? [name, Buffer.from(Buffer.from(data).toString('latin1').replace('torch\nFloatStorage\n', 'torch\nComplexFloatStorage\n'), 'latin1')] : [name, data]);
    assertWeightsError(makeZip(entries), 'complex.pth', 'complex.pth: unsupported storage type torch.ComplexFloatStorage (storage 0)');
  });

  it('a truncated data.pkl', async () => {
    const entries = entriesOf(await fixture('views.pth')).map(([name, data]): [string, Uint8Array] =>
      name === 'views/data.pkl' ? [name, data.subarray(0, 100)] : [name, data]);
    assertWeightsError(makeZip(entries), 'cut.pth', /^cut\.pth: pickle: truncated: needs \d+ more bytes, \d+ left \(at byte \d+\)$/);
  });

  it('a zip whose directory points past the end', async () => {
    const bytes = makeZip([['archive/data.pkl', Uint8Array.of(0x80, 0x02, 0x7d, 0x2e)]]);
    bytes.writeUInt32LE(1000, bytes.length - 22 + 12); // central directory size
    assertWeightsError(bytes, 'dir.pth', /^dir\.pth: truncated zip archive: central directory \(\d+\+1000\) lies past the end/);
  });
});
