/** Turns an error into one line for the user and an exit status: never a stack dump for a known failure. */
import { ImageDecodeError, ImageTooLargeError, InvalidArgumentError } from '../segmentation/errors.js';
import { WeightsError } from '../model/weights/errors.js';
import { EXIT } from './exit-codes.js';

export function exitCodeFor(err: unknown): { code: number; message: string } {
  if (err instanceof WeightsError) return { code: EXIT.weights, message: err.message };
  if (err instanceof ImageDecodeError || err instanceof ImageTooLargeError) return { code: EXIT.input, message: err.message };
  if (err instanceof InvalidArgumentError || err instanceof RangeError) return { code: EXIT.usage, message: err.message };
  const message = err instanceof Error ? err.message : String(err);
  // Unexpected: keep the stack available for bug reports without showing it by default.
  if (process.env.CITYSEG_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  if ((err as NodeJS.ErrnoException)?.code === 'ENOENT') return { code: EXIT.input, message };
  return { code: EXIT.failure, message };
}
