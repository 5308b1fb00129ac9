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
  /** `file` undefined: the message is the problem alone. */
  constructor(file: string | undefined, problem: string, options?: { cause?: unknown });
  constructor(fileOrMessage: string | undefined, problem?: string, options?: { cause?: unknown }) {
    const file = problem === undefined ? undefined : fileOrMessage;
    const text = problem ?? fileOrMessage ?? '';
    super(file === undefined ? text : `${file}: ${text}`, options);
    this.file = file;
    this.problem = text;
  }
}

/** Name used in error messages when bytes were handed over without a file name. */
export const UNNAMED_SOURCE = '<in-memory weights>';
