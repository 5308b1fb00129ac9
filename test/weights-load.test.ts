/** readStateDict / readStateDictFile: the format is judged by content, not extension; errors name the file. */
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WeightsError } from '../model/weights/errors.js';
import { readStateDict, readStateDictFile, sniffWeightsFormat } from '../model/weights/load.js';

const weightsDir = fileURLToPath(new URL('./fixtures/weights/', import.meta.url));

async function expectWeightsError(promise: Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof WeightsError, `expected a WeightsError, got ${String(error)}`);
    assert.equal(error.message, message);
    return true;
  });
}

describe('weights file loading', () => {
  it('sniffs torch zips, legacy torch files and safetensors by their first bytes', async () => {
    assert.equal(sniffWeightsFormat(await readFile(weightsDir + 'views.pth')), 'pth');
    assert.equal(sniffWeightsFormat(await readFile(weightsDir + 'legacy.pth')), 'pth');
    assert.equal(sniffWeightsFormat(await readFile(weightsDir + 'dtypes.safetensors')), 'safetensors');
    assert.equal(sniffWeightsFormat(Buffer.from('GIF89a not weights')), null);
  });

  it('reads a safetensors file saved as .pth and a checkpoint saved as .bin alike', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cityseg-load-'));
    try {
      await copyFile(weightsDir + 'dtypes.safetensors', join(dir, 'misnamed.pth'));
      await copyFile(weightsDir + 'views.pth', join(dir, 'misnamed.bin'));
      assert.equal((await readStateDictFile(join(dir, 'misnamed.pth'))).get('i32')!.data[1], 2 ** 30);
      assert.deepEqual((await readStateDictFile(join(dir, 'misnamed.bin'))).get('sliced')!.shape, [3, 3]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names the file for a missing path, an empty file and unknown content', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cityseg-load-'));
    try {
      await expectWeightsError(readStateDictFile(join(dir, 'absent.pth')), `${join(dir, 'absent.pth')}: file not found`);
      await writeFile(join(dir, 'empty.pth'), '');
      await expectWeightsError(readStateDictFile(join(dir, 'empty.pth')), `${join(dir, 'empty.pth')}: empty file`);
      await writeFile(join(dir, 'image.pth'), 'GIF89a not weights');
      await expectWeightsError(
        readStateDictFile(join(dir, 'image.pth')),
        `${join(dir, 'image.pth')}: neither a torch checkpoint (zip) nor a safetensors file (starts with 0x474946383961206e)`,
      );
      await expectWeightsError(readStateDictFile(dir), `${dir}: is a directory`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('passes the given name into errors from the format readers', async () => {
    const truncated = (await readFile(weightsDir + 'views.pth')).subarray(0, 300);
    assert.throws(() => readStateDict(truncated, 'https://example.org/v.pth'), {
      name: 'WeightsError',
      message: 'https://example.org/v.pth: truncated zip archive: no end-of-central-directory record (incomplete download?)',
    });
  });
});
