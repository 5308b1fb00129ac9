import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { networkInterfaces } from 'node:os';
import { CLI_BIN, cliEnv, SERVER_MAIN } from './cli-helpers.js';

/** An IPv4 address of this machine other than loopback, if it has one. */
function externalAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((info) => info !== undefined && info.family === 'IPv4' && !info.internal)?.address;
}

/** Starts the compiled entry with HOST unset, returns the address of its "Server listening at" log line, stops it. */
async function listeningAddress(args: string[]): Promise<{ address: string; refusedElsewhere: boolean | undefined }> {
  const child = spawn(process.execPath, args, {
    env: cliEnv({ PORT: '0', CITYSEG_CLASSIFIER_ARCH: 'none', CITYSEG_INFERENCE_SIZE: '64', LOG_LEVEL: 'info' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    let stdout = '';
    const address = await new Promise<string>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
        const match = /"msg":"Server listening at (http:\/\/[^"]+)"/.exec(stdout);
        if (match) resolve(match[1]);
      });
      child.on('exit', (code) => reject(new Error(`exited ${code} before listening: ${stdout}`)));
    });
    const external = externalAddress();
    const port = new URL(address).port;
    const refusedElsewhere =
      external === undefined
        ? undefined
        : await fetch(`http://${external}:${port}/healthz`).then(
            () => false,
            (error: Error & { cause?: { code?: string } }) => error.cause?.code === 'ECONNREFUSED',
          );
    return { address, refusedElsewhere };
  } finally {
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
}

describe('binding', () => {
  for (const [name, args] of [
    ['node dist/server/main.js', [SERVER_MAIN]],
    ['cityseg serve', [CLI_BIN, 'serve']],
  ] as const) {
    it(`${name} without HOST listens on 127.0.0.1 only`, async () => {
      const { address, refusedElsewhere } = await listeningAddress([...args]);
      assert.match(address, /^http:\/\/127\.0\.0\.1:\d+$/);
      // On a machine with a network interface, the same port there must refuse connections.
      if (refusedElsewhere !== undefined) assert.equal(refusedElsewhere, true);
    });
  }
});
