/** Exit statuses of every cityseg command (documented in the README and `cityseg --help`). */
export const EXIT = {
  ok: 0,
  /** Some inputs failed (the others were processed), or a runtime error. */
  failure: 1,
  /** Wrong flags or arguments. */
  usage: 2,
  /** Weights could not be loaded: missing, corrupt, wrong architecture or class count. */
  weights: 3,
  /** An input image or video could not be read or decoded. */
  input: 4,
} as const;

export const EXIT_CODES_HELP = `
Exit codes:
  0  success
  1  failure (some inputs failed, or a runtime error)
  2  usage error (unknown flag, bad value)
  3  weights could not be loaded (missing, corrupt, wrong architecture or class count)
  4  an input image could not be read or decoded`;
