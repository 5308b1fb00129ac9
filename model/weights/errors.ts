/**
 * Everything wrong with a weights file or a state dict is reported as a WeightsError, so callers (CLI, server)
 * can turn it into a clean message instead of a stack trace.
 *
 * `new WeightsError(file, problem)` builds the message `<file>: <problem>` and keeps both parts as fields;
 * `new WeightsError(message)` is for callers that compose the whole message themselves.
 */
export class WeightsError extends Error {
  override name = 'WeightsError';
  /** The file, URL or buffer concerned, when known. */
  readonly file: string | undefined;
  /** The message without the file name. */
  readonly problem: string;

  constructor(message: string);
  constructor(file: string, problem: string, options?: { cause?: unknown });
  constructor(fileOrMessage: string, problem?: string, options?: { cause?: unknown }) {
    super(problem === undefined ? fileOrMessage : `${fileOrMessage}: ${problem}`, options);
    this.file = problem === undefined ? undefined : fileOrMessage;
    this.problem = problem ?? fileOrMessage;
  }
}

/** Name used in error messages when bytes were handed over without a file name. */
export const UNNAMED_SOURCE = '<in-memory weights>';
