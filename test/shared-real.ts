/**
 * The real street frames beside CI's checkout (`../shared/real`: Cityscapes frames, one with fine ground truth),
 * read in place, never copied into the repository. A fresh clone has none: tests that read them skip with
 * SHARED_REAL_SKIP instead of failing. CITYSEG_TEST_SHARED_REAL (read only here) points elsewhere, so the skips
 * themselves can be checked.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder of real frames (absolute). */
export const SHARED_REAL = process.env.CITYSEG_TEST_SHARED_REAL
  ? path.resolve(process.env.CITYSEG_TEST_SHARED_REAL)
  : fileURLToPath(new URL('../../shared/real', import.meta.url));

/** A test's `skip` option: false when the frames are there, else the reason shown for the skip. */
export const SHARED_REAL_SKIP: string | false = existsSync(SHARED_REAL)
  ? false
  : `needs ../shared/real (real Cityscapes frames beside the checkout; ${SHARED_REAL} is missing)`;

/** The path of one real frame file. */
export function realFrame(file: string): string {
  return path.join(SHARED_REAL, file);
}
