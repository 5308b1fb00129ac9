/** Turns an error into one line for the user and an exit status: never a stack dump for a known failure. */
import { errorRow } from '../server/error-table.js';
import { EXIT } from './exit-codes.js';

/** The exit status of the error table's row for `err` (server/error-table.ts), with its message. */
export function exitCodeFor(err: unknown): { code: number; message: string } {
  const message = err instanceof Error ? err.message : String(err);
  const known = errorRow(err);
  if (known) return { code: known.exit, message };
  // Unexpected: keep the stack available for bug reports without showing it by default.
  if (process.env.CITYSEG_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  if ((err as NodeJS.ErrnoException)?.code === 'ENOENT') return { code: EXIT.input, message };
  return { code: EXIT.failure, message };
}
