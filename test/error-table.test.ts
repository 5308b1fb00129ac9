/** One table maps each error class to its HTTP problem, CLI exit status and worker wire form (server/error-table.ts). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { exitCodeFor } from '../cli/report-error.js';
import { QuantizationError } from '../model/quantize/errors.js';
import { WeightsError } from '../model/weights/errors.js';
import { ClassCountMismatchError, ImageDecodeError, ImageTooLargeError, InvalidArgumentError, LabelSetError, ShapeError } from '../segmentation/errors.js';
import { VideoError } from '../segmentation/video/errors.js';
import { ConfigError } from '../server/config.js';
import { problemFor } from '../server/error-mapping.js';
import { ERROR_TABLE } from '../server/error-table.js';
import { QueueClosedError, QueueFullError, QueueTimeoutError } from '../server/inference-queue.js';
import { MemoryLimitError } from '../server/memory-budget.js';
import { ModelsFileError } from '../server/models-file-error.js';
import { HttpProblem } from '../server/problems.js';
import { fromWire, toWire } from '../server/worker-errors.js';

/** An error of each class in the table, and what HTTP (kind, status) and the CLI (exit status) answer for it. */
const CASES: [Error, string, number, number][] = [
  [new HttpProblem('conflict', 'no models file'), 'conflict', 409, 1],
  [new WeightsError('w.pth', 'truncated'), 'internal-error', 500, 3],
  [new ImageDecodeError('IMAGE_EMPTY', 'the body is empty'), 'empty-body', 422, 4],
  [new ImageDecodeError('IMAGE_NOT_RECOGNISED', 'not an image'), 'unsupported-media-type', 415, 4],
  [new ImageDecodeError('IMAGE_CORRUPT', 'truncated'), 'unprocessable-image', 422, 4],
  [new ImageTooLargeError(9000, 9000, 40_000_000), 'image-too-large', 413, 4],
  [new VideoError('VIDEO_TOO_LARGE', 'over 600 s'), 'payload-too-large', 413, 4],
  [new InvalidArgumentError('size must be ≥ 32'), 'bad-parameter', 400, 2],
  [new ShapeError('expected [1, 3]'), 'internal-error', 500, 1],
  [new MemoryLimitError(3 * 1024 ** 3, 1024 ** 3), 'memory-limit', 413, 1],
  [new QueueFullError('full', 3), 'queue-full', 503, 1],
  [new QueueTimeoutError('late', 2), 'queue-timeout', 503, 1],
  [new QueueClosedError('closing', 1), 'shutting-down', 503, 1],
  [new RangeError('--alpha must be 0..1'), 'internal-error', 500, 2],
  [new LabelSetError('labels.json', 'no classes'), 'internal-error', 500, 2],
  [new ClassCountMismatchError('voc', 21, 19), 'internal-error', 500, 2],
  [new ConfigError('port', 'PORT', 'expected an integer'), 'internal-error', 500, 2],
  [new ModelsFileError('models.yaml', 'model "voc": unknown key'), 'unprocessable-models-file', 422, 2],
  [new QuantizationError('q.json was calibrated on other weights'), 'internal-error', 500, 2],
];

describe('error table', () => {
  it('covers every class of the table with a case here', () => {
    for (const { type } of ERROR_TABLE) assert.ok(CASES.some(([error]) => error.constructor === type), type.name);
  });

  it('gives each error its problem kind and status over HTTP and its exit status in the CLI', () => {
    for (const [error, kind, status, exit] of CASES) {
      const problem = problemFor(error);
      assert.deepEqual([problem.kind, problem.status, exitCodeFor(error).code], [kind, status, exit], error.constructor.name);
      if (kind !== 'internal-error') assert.equal(problem.detail, error.message);
    }
    assert.equal(problemFor(new QueueFullError('full', 3)).retryAfterSeconds, 3);
    assert.deepEqual([problemFor(new Error('bug')).kind, exitCodeFor(new Error('bug')).code], ['internal-error', 1]);
  });

  it('rebuilds the classes with a wire form from a structured clone, fields and all; the rest arrive as plain errors', () => {
    for (const { type, wire } of ERROR_TABLE) {
      const [error] = CASES.find(([candidate]) => candidate.constructor === type)!;
      const rebuilt = fromWire(structuredClone(toWire(error)));
      if (!wire) {
        assert.equal(rebuilt.constructor, Error, type.name);
        assert.equal(rebuilt.message, `inference worker: ${error.message}`);
        continue;
      }
      assert.equal(rebuilt.constructor, type);
      assert.deepEqual({ ...rebuilt, message: rebuilt.message }, { ...error, message: error.message });
    }
  });
});
