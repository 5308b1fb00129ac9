import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { checkBatch, failureLine, formatSummary, InputsFailedError, runBatch } from '../cli/batch.js';
import { ratePerSecond, startProgress } from '../cli/progress.js';
import { ImageDecodeError } from '../segmentation/errors.js';

/** A stream that says it is a terminal, collecting what is written. */
function fakeStream(isTTY: boolean): { stream: PassThrough & { isTTY: boolean; columns: number }; text: () => string } {
  const stream = Object.assign(new PassThrough(), { isTTY, columns: 100 });
  let text = '';
  stream.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  return { stream, text: () => text };
}

describe('progress', () => {
  it('draws a bar with count, rate and ETA on a TTY, with log lines above it', () => {
    const { stream, text } = fakeStream(true);
    const progress = startProgress({ total: 3, label: 'segment', stream });
    progress.tick();
    progress.log('cityseg: b.png: image is truncated or corrupt');
    progress.tick();
    progress.tick();
    progress.stop();
    const output = text();
    assert.match(output, /segment \[[█░]+\] 100% \| 3\/3 \| \d+\.\d\d img\/s \| ETA \d+s/);
    assert.match(output, /cityseg: b\.png: image is truncated or corrupt\n/);
    // The log line comes before the final bar; no terminal mode is changed (nothing to restore after Ctrl-C).
    assert.ok(output.indexOf('b.png') < output.lastIndexOf('3/3'));
    for (const mode of ['\x1b[?25l', '\x1b[?7l']) assert.ok(!output.includes(mode), JSON.stringify(mode));
  });

  it('writes only the log lines when the stream is not a TTY, or with quiet', () => {
    for (const [isTTY, quiet] of [[false, false], [true, true]]) {
      const { stream, text } = fakeStream(isTTY);
      const progress = startProgress({ total: 2, label: 'segment', stream, quiet });
      progress.tick();
      progress.log('cityseg: x.png: broken');
      progress.tick();
      progress.stop();
      assert.equal(text(), 'cityseg: x.png: broken\n');
    }
  });

  it('computes the rate from the elapsed time', () => {
    assert.equal(ratePerSecond(6, 1000, 4000), 2);
    assert.equal(ratePerSecond(6, 1000, 1000), 0);
  });
});

describe('runBatch', () => {
  it('counts processed, skipped and failed items, carrying on after a failure', async () => {
    const seen: string[] = [];
    const counts = await runBatch(
      ['a', 'b', 'c', 'd'],
      {
        label: 'test',
        quiet: true,
        nameOf: (item) => `${item}.png`,
        async run(item) {
          seen.push(item);
          if (item === 'b') throw new ImageDecodeError('IMAGE_CORRUPT', 'image is truncated or corrupt');
          return item === 'c' ? 'skipped' : 'processed';
        },
      },
      1,
    );
    assert.deepEqual(seen, ['a', 'b', 'c', 'd']);
    assert.deepEqual([counts.processed, counts.skipped, counts.failed], [2, 1, 2]);
    assert.ok(counts.seconds >= 0);
    assert.throws(() => checkBatch(counts), (err: unknown) => err instanceof InputsFailedError && err.message === '2 of 5 inputs failed');
    assert.doesNotThrow(() => checkBatch({ processed: 1, skipped: 0, failed: 0, seconds: 1 }));
  });

  it('formats the failure line and the summary', () => {
    assert.equal(failureLine('b.png', new ImageDecodeError('IMAGE_EMPTY', 'image is empty (0 bytes)')), 'cityseg: b.png: image is empty (0 bytes)');
    assert.equal(formatSummary({ processed: 3, skipped: 1, failed: 1, seconds: 2.4 }), 'processed 3, skipped 1, failed 1 in 2.40 s (1.25 images/s)');
    assert.equal(formatSummary({ processed: 0, skipped: 2, failed: 0, seconds: 0 }), 'processed 0, skipped 2, failed 0 in 0.00 s (0.00 images/s)');
  });
});
