/**
 * Every error class the service and the CLI answer for, in one table: the problem an HTTP answer gives (its kind,
 * hence status and title in PROBLEM_KINDS), the CLI's exit status, and its wire form across the worker-thread
 * boundary (the constructor arguments that rebuild it: structured clone keeps neither class nor fields). The HTTP
 * error handlers (server/error-mapping.ts), the CLI's error report (cli/report-error.ts) and the worker protocol
 * (server/worker-errors.ts) read it. First match wins: subclasses before their parents. Imports no framework: the
 * CLI loads it at start-up.
 */
import { EXIT } from '../cli/exit-codes.js';
import { QuantizationError } from '../model/quantize/errors.js';
import { WeightsError } from '../model/weights/errors.js';
import { ClassCountMismatchError, ImageDecodeError, ImageTooLargeError, InvalidArgumentError, LabelSetError, ShapeError, type ImageDecodeErrorCode } from '../segmentation/errors.js';
import { VideoError, type VideoErrorCode } from '../segmentation/video/errors.js';
import { ConfigError } from './config.js';
import { QueueClosedError, QueueFullError, QueueTimeoutError } from './inference-queue.js';
import { MemoryLimitError } from './memory-budget.js';
import { ModelsFileError } from './models-file-error.js';
import { HttpProblem, type ProblemKind } from './problems.js';

type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export interface ErrorRow<E extends Error = Error> {
  type: abstract new (...args: never[]) => E;
  /** The HTTP problem's kind; absent: a fault of the server (or a CLI-only error), answered 500 internal-error. */
  kind?: ProblemKind | ((error: E) => ProblemKind);
  /** The CLI's exit status. */
  exit: ExitCode;
  /** Constructor arguments that rebuild it on the main thread; absent: a worker sends it as a plain Error. */
  wire?: (error: E) => unknown[];
}

const DECODE_KINDS: Record<ImageDecodeErrorCode, ProblemKind> = {
  IMAGE_EMPTY: 'empty-body',
  IMAGE_NOT_RECOGNISED: 'unsupported-media-type',
  IMAGE_UNSUPPORTED_FORMAT: 'unsupported-media-type',
  IMAGE_CORRUPT: 'unprocessable-image',
};

const VIDEO_KINDS: Record<VideoErrorCode, ProblemKind> = {
  VIDEO_NOT_RECOGNISED: 'unsupported-media-type',
  VIDEO_TOO_LARGE: 'payload-too-large',
  VIDEO_UNPROCESSABLE: 'unprocessable-video',
};

const row = <E extends Error>(entry: ErrorRow<E>) => entry as unknown as ErrorRow;

export const ERROR_TABLE: readonly ErrorRow[] = [
  row({ type: HttpProblem, kind: (e) => e.kind, exit: EXIT.failure, wire: (e) => [e.kind, e.detail, e.retryAfterSeconds] }),
  row({ type: WeightsError, exit: EXIT.weights }),
  row({ type: ImageDecodeError, kind: (e) => DECODE_KINDS[e.code], exit: EXIT.input, wire: (e) => [e.code, e.message] }),
  row({ type: ImageTooLargeError, kind: 'image-too-large', exit: EXIT.input, wire: (e) => [e.width, e.height, e.maxPixels] }),
  row({ type: VideoError, kind: (e) => VIDEO_KINDS[e.code], exit: EXIT.input }),
  row({ type: InvalidArgumentError, kind: 'bad-parameter', exit: EXIT.usage, wire: (e) => [e.message] }),
  // A tensor of the wrong shape is the server's fault, not the client's.
  row({ type: ShapeError, exit: EXIT.failure, wire: (e) => [e.message] }),
  row({ type: MemoryLimitError, kind: 'memory-limit', exit: EXIT.failure }),
  row({ type: QueueFullError, kind: 'queue-full', exit: EXIT.failure }),
  row({ type: QueueTimeoutError, kind: 'queue-timeout', exit: EXIT.failure }),
  row({ type: QueueClosedError, kind: 'shutting-down', exit: EXIT.failure }),
  row({ type: RangeError, exit: EXIT.usage }),
  // A bad --labels value, or one that does not fit the model, is a wrong argument.
  row({ type: LabelSetError, exit: EXIT.usage }),
  row({ type: ClassCountMismatchError, exit: EXIT.usage }),
  // `cityseg serve` validates its flags and variables with the server's own config table...
  row({ type: ConfigError, exit: EXIT.usage }),
  // ...and its models file, whose one line names the entry (POST /v1/admin/reload answers it 422).
  row({ type: ModelsFileError, kind: 'unprocessable-models-file', exit: EXIT.usage }),
  // int8 without a fitting quantisation file (or on tfjs) is a wrong argument.
  row({ type: QuantizationError, exit: EXIT.usage }),
];

/** The table's row for `error`, or undefined for an error it does not know. */
export function errorRow(error: unknown): ErrorRow | undefined {
  return ERROR_TABLE.find(({ type }) => error instanceof type);
}

/** The row whose class is named `name` (the wire form names the class). */
export function errorRowNamed(name: string): ErrorRow | undefined {
  return ERROR_TABLE.find(({ type }) => type.name === name);
}

/** The problem kind of a row for `error`, or undefined when it has none. */
export function problemKindOf(entry: ErrorRow, error: Error): ProblemKind | undefined {
  return typeof entry.kind === 'function' ? entry.kind(error) : entry.kind;
}
