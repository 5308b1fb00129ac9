import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const commands = readFileSync(new URL('../.ci/run', import.meta.url), 'utf8')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'));

test('CI prints the advisories of the production dependencies without failing on them, then runs npm test', () => {
  const audit = commands.indexOf('npm audit --omit=dev || true');
  assert.ok(audit >= 0, `.ci/run has no 'npm audit --omit=dev || true': ${commands.join(' / ')}`);
  assert.ok(commands.indexOf('npm ci') < audit, 'audit after npm ci');
  assert.ok(audit < commands.indexOf('npm test'), 'audit before npm test, whose failure ends the run');
});
