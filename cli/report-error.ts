/** Turns an error into one line for the user and an exit status: never a stack dump for a known failure. */
import { ClassCountMismatchError, ImageDecodeError, ImageTooLargeError, InvalidArgumentError, LabelSetError } from '../segmentation/errors.js';
import { QuantizationError } from '../model/quantize/errors.js';
import { WeightsError } from '../model/weights/errors.js';
import { ConfigError } from '../server/config.js';
import { ModelsFileError } from '../server/models-file-error.js';
import { EXIT } from './exit-codes.js';
import { VideoError } from '../segmentation/video/errors.js';

/** Known error classes and their exit status; the first match wins. */
const EXIT_CODE_OF: ReadonlyArray<[abstract new (...args: never[]) => Error, number]> = [
  [WeightsError, EXIT.weights],
  [ImageDecodeError, EXIT.input],
  [ImageTooLargeError, EXIT.input],
  [VideoError, EXIT.input],
  [InvalidArgumentError, EXIT.usage],
  [RangeError, EXIT.usage],
  // A bad --labels value, or one that does not fit the model, is a wrong argument.
  [LabelSetError, EXIT.usage],
  [ClassCountMismatchError, EXIT.usage],
  // `cityseg serve` validates its flags and variables with the server's own config table.
  [ConfigError, EXIT.usage],
  // ...and its models file, whose one line names the entry.
  [ModelsFileError, EXIT.usage],
  // int8 without a fitting quantisation file (or on tfjs) is a wrong argument.
  [QuantizationError, EXIT.usage],
];

export function exitCodeFor(err: unknown): { code: number; message: string } {
  const message = err instanceof Error ? err.message : String(err);
  const known = EXIT_CODE_OF.find(([type]) => err instanceof type);
  if (known) return { code: known[1], message };
  // Unexpected: keep the stack available for bug reports without showing it by default.
  if (process.env.CITYSEG_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  if ((err as NodeJS.ErrnoException)?.code === 'ENOENT') return { code: EXIT.input, message };
  return { code: EXIT.failure, message };
}
