import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../scripts/image-smoke.sh', import.meta.url));
const TIMEOUT_MS = 15 * 60_000;
// A clean npm ci + build + server start takes minutes: run it in CI, or locally when asked for.
const enabled = process.env.CI === 'true' || process.env.CITYSEG_IMAGE_SMOKE === '1';
const skip = enabled ? false : 'slow (npm ci of a clean copy): runs when CI=true or CITYSEG_IMAGE_SMOKE=1';

test('the image build steps and CMD work on a clean copy: ready, a labelIds PNG, exit 0 on SIGTERM', { skip, timeout: TIMEOUT_MS }, async () => {
  const child = spawn('bash', [SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const tail = output.split('\n').slice(-60).join('\n');
  assert.equal(code, 0, `scripts/image-smoke.sh exited ${code}:\n${tail}`);
  assert.match(output, /200 image\/png 96x64/);
  assert.match(output, /image-smoke: PASS/);
});
