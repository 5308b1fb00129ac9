/** validateStateDict: every kind of mismatch is reported, by name and shape, all in one error. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WeightsError } from '../model/weights/errors.js';
import type { StateDict } from '../model/weights/state-dict.js';
import { StateDictMismatchError, validateStateDict } from '../model/weights/validate.js';

const tensor = (shape: number[], fill = 0.5): { shape: number[]; data: Float32Array } => ({
  shape,
  data: new Float32Array(shape.reduce((n, d) => n * d, 1)).fill(fill),
});

const expected = new Map<string, number[]>([
  ['conv.weight', [16, 3, 3, 3]],
  ['bn.weight', [16]],
  ['bn.running_var', [16]],
  ['head.weight', [19, 16, 1, 1]],
]);

function fitting(): StateDict {
  return new Map([...expected].map(([name, shape]) => [name, tensor(shape)]));
}

function mismatch(fn: () => void): StateDictMismatchError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof StateDictMismatchError, `expected StateDictMismatchError, got ${String(error)}`);
    assert.ok(error instanceof WeightsError);
    return error;
  }
  return assert.fail('validateStateDict accepted a mismatching state dict');
}

describe('validateStateDict', () => {
  it('accepts a fitting state dict, with or without num_batches_tracked', () => {
    validateStateDict(fitting(), expected);
    const withCounter = fitting().set('bn.num_batches_tracked', tensor([], 100));
    validateStateDict(withCounter, expected);
    validateStateDict(fitting(), new Map([...expected, ['bn.num_batches_tracked', []]]));
  });

  it('names a missing tensor with its expected shape', () => {
    const sd = fitting();
    sd.delete('head.weight');
    const error = mismatch(() => validateStateDict(sd, expected));
    assert.deepEqual(error.missing, [{ name: 'head.weight', expected: [19, 16, 1, 1] }]);
    assert.equal(
      error.message,
      'state dict does not match the expected parameters (1 problem(s)):\n  missing head.weight: expected shape [19, 16, 1, 1]',
    );
  });

  it('names an unexpected tensor with its shape', () => {
    const sd = fitting().set('aux.weight', tensor([10, 16]));
    const error = mismatch(() => validateStateDict(sd, expected));
    assert.deepEqual(error.unexpected, [{ name: 'aux.weight', actual: [10, 16] }]);
    assert.match(error.message, /\n {2}unexpected aux\.weight: shape \[10, 16\]$/);
  });

  it('names a wrongly shaped tensor with both shapes (e.g. a 21-class head)', () => {
    const sd = fitting().set('head.weight', tensor([21, 16, 1, 1]));
    const error = mismatch(() => validateStateDict(sd, expected));
    assert.deepEqual(error.wrongShape, [{ name: 'head.weight', expected: [19, 16, 1, 1], actual: [21, 16, 1, 1] }]);
    assert.match(error.message, /wrong shape head\.weight: expected \[19, 16, 1, 1\], got \[21, 16, 1, 1\]/);
  });

  it('names a tensor holding NaN or infinity, with the count and the first offender', () => {
    const sd = fitting();
    sd.get('bn.running_var')!.data[5] = NaN;
    sd.get('bn.running_var')!.data[9] = -Infinity;
    const error = mismatch(() => validateStateDict(sd, expected));
    assert.equal(error.nonFinite.length, 1);
    assert.deepEqual({ ...error.nonFinite[0] }, { name: 'bn.running_var', count: 2, firstIndex: 5, firstValue: NaN });
    assert.match(error.message, /non-finite bn\.running_var: 2 value\(s\), first NaN at index 5/);
  });

  it('names a tensor whose data does not fit its shape', () => {
    const sd = fitting().set('bn.weight', { shape: [16], data: new Float32Array(15) });
    const error = mismatch(() => validateStateDict(sd, expected));
    assert.deepEqual(error.corrupt, [{ name: 'bn.weight', shape: [16], valueCount: 15 }]);
  });

  it('reports all problems together, and the source when given', () => {
    const sd = fitting();
    sd.delete('conv.weight');
    sd.set('bn.weight', tensor([32])).set('extra', tensor([1]));
    sd.get('head.weight')!.data[0] = Infinity;
    const error = mismatch(() => validateStateDict(sd, expected, { source: 'ckpt.pth' }));
    assert.equal(
      error.message,
      'ckpt.pth: state dict does not match the expected parameters (4 problem(s)):\n' +
        '  missing conv.weight: expected shape [16, 3, 3, 3]\n' +
        '  wrong shape bn.weight: expected [16], got [32]\n' +
        '  unexpected extra: shape [1]\n' +
        '  non-finite head.weight: 1 value(s), first Infinity at index 0',
    );
  });

  it('skips names the ignore option selects, in addition to num_batches_tracked', () => {
    const sd = fitting().set('aux.weight', tensor([3])).set('bn.num_batches_tracked', tensor([]));
    validateStateDict(sd, expected, { ignore: (name) => name.startsWith('aux.') });
  });

  it('caps the message for a completely different model but keeps every problem in the fields', () => {
    const other: StateDict = new Map(Array.from({ length: 40 }, (_, i) => [`layer${i}.weight`, tensor([2])]));
    const error = mismatch(() => validateStateDict(other, expected));
    assert.equal(error.missing.length, 4);
    assert.equal(error.unexpected.length, 40);
    assert.equal(error.message.split('\n').length, 1 + 25 + 1);
    assert.match(error.message, /\(44 problem\(s\)\)/);
    assert.match(error.message, /\n {2}\.\.\. and 19 more$/);
  });
});
