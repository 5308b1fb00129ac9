/**
 * The settings as documented and deployed agree with the one table, server/config.ts SETTINGS: the README's
 * configuration table lists each setting once with its flag and default, and the Dockerfile names only settings.
 * (docker-compose.yml and the k8s ConfigMap are checked against the same table by deploy-compose / deploy-k8s.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { SETTINGS, type SettingName } from '../server/config.js';

const read = (file: string) => readFileSync(new URL(`../${file}`, import.meta.url), 'utf8');

/** A variable cityseg reads: `CITYSEG_*`, or the conventional PORT, HOST, LOG_LEVEL. */
const SETTING_VARIABLE = /\b(CITYSEG_[A-Z0-9_]+|PORT|HOST|LOG_LEVEL)\b/g;

const byEnv = new Map(Object.entries(SETTINGS).map(([name, spec]) => [spec.env, name as SettingName]));

interface ReadmeRow {
  env: string;
  flag: string;
  fallback: string;
}

/** The rows of README.md's "## Configuration" table; `PORT`, `HOST` rows give one entry per variable. */
function readmeRows(): ReadmeRow[] {
  const readme = read('README.md');
  const start = readme.indexOf('\n## Configuration\n');
  assert.ok(start >= 0, 'README.md has no "## Configuration" section');
  const section = readme.slice(start + 1, readme.indexOf('\n## ', start + 1));
  const cells = (line: string) => line.split('|').slice(1, -1).map((cell) => cell.trim());
  const table = section.split('\n').filter((line) => line.startsWith('|'));
  assert.deepEqual(cells(table[0]), ['variable', 'flag', 'default', 'meaning']);
  const unquote = (s: string) => s.trim().replace(/^`(.*)`$/, '$1');
  return table.slice(2).flatMap((line) => {
    const [envs, flags, fallbacks] = cells(line).map((cell) => cell.split(', ').map(unquote));
    return envs.map((env, i) => ({ env, flag: flags[i], fallback: fallbacks.length === envs.length ? fallbacks[i] : fallbacks.join(', ') }));
  });
}

test("README's configuration table lists every setting once, with its flag and default", () => {
  const rows = readmeRows();
  assert.deepEqual(rows.map((row) => row.env).sort(), [...byEnv.keys()].sort());
  for (const row of rows) {
    const spec = SETTINGS[byEnv.get(row.env)!];
    assert.equal(row.flag, `--${spec.flag}`, row.env);
    // The documented default, read by the setting's own parser, is the default (20MiB is 20971520 bytes).
    if (spec.fallback !== undefined) assert.deepEqual(spec.parse(row.fallback), spec.fallback, `${row.env} default '${row.fallback}'`);
  }
});

test('the Dockerfile names only settings, and its ENV values are valid for them', () => {
  const dockerfile = read('Dockerfile');
  const named = new Set([...dockerfile.matchAll(SETTING_VARIABLE)].map((match) => match[1]));
  for (const variable of named) assert.ok(byEnv.has(variable), `Dockerfile names ${variable}, which is not in server/config.ts SETTINGS`);
  // `ENV A=1 \` continued lines: every KEY=value pair of an ENV instruction.
  const envText = [...dockerfile.replace(/\\\n/g, ' ').matchAll(/^ENV\s+(.+)$/gm)].map((match) => match[1]).join(' ');
  for (const [, key, value] of envText.matchAll(/([A-Z_][A-Z0-9_]*)=(\S+)/g)) {
    const setting = byEnv.get(key);
    if (setting) assert.doesNotThrow(() => SETTINGS[setting].parse(value), `ENV ${key}=${value}`);
  }
});
