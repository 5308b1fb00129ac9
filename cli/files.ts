/** File helpers for commands that write one set of outputs per input and may be interrupted and rerun. */
import { access, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

export async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/**
 * Write through a temporary file and rename it into place, so an interrupted run never leaves a
 * truncated output that the next run would take as done and skip.
 */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(temporary, data);
    await rename(temporary, file);
  } catch (err) {
    await rm(temporary, { force: true });
    throw err;
  }
}
