/**
 * `npm ci` on the oldest Node the package supports prints no EBADENGINE warning: every package the lockfile installs
 * accepts every Node version our own `engines` range accepts (no install warning a user must interpret).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import semver from 'semver';

const REPO = path.resolve(import.meta.dirname, '..');

interface LockedPackage {
  version?: string;
  engines?: { node?: string } | string[];
  optional?: boolean;
}

async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await readFile(path.join(REPO, file), 'utf8')) as T;
}

describe('the lockfile against our engines range', () => {
  it('installs no package that declares a Node range narrower than ours', async () => {
    const pkg = await readJson<{ engines: { node: string } }>('package.json');
    const lock = await readJson<{ packages: Record<string, LockedPackage> }>('package-lock.json');
    // The lowest Node our range admits: what a user on the oldest supported release runs npm with.
    const oldest = semver.minVersion(pkg.engines.node);
    assert.ok(oldest, `engines.node "${pkg.engines.node}" has a lowest version`);
    const narrower = Object.entries(lock.packages)
      .filter(([where, entry]) => where !== '' && !Array.isArray(entry.engines) && entry.engines?.node !== undefined)
      .filter(([, entry]) => !semver.satisfies(oldest, (entry.engines as { node: string }).node, { includePrerelease: true }))
      .map(([where, entry]) => `${where.replace(/^node_modules\//, '')}@${entry.version} wants node ${(entry.engines as { node: string }).node}`);
    assert.deepEqual(narrower, [], `npm would warn EBADENGINE on Node ${oldest.version}`);
  });

  it('runs on the Node this machine has', async () => {
    const pkg = await readJson<{ engines: { node: string } }>('package.json');
    assert.ok(semver.satisfies(process.version, pkg.engines.node), `${process.version} is outside engines.node ${pkg.engines.node}`);
  });
});
