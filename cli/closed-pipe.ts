/** `cityseg classify photos/ | head`: a reader that stops early ends the command quietly, not with a stack trace. */
let installed = false;

export function exitQuietlyOnClosedStdout(exitCode: number): void {
  if (installed) return;
  installed = true;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(exitCode);
  });
}
