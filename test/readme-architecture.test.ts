/** The README's Architecture section names modules that exist: a rename must carry the newcomer's map with it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';

const root = new URL('../', import.meta.url);

test("every path the README's Architecture section names exists", () => {
  const readme = readFileSync(new URL('README.md', root), 'utf8');
  const start = readme.indexOf('\n## Architecture\n');
  assert.ok(start >= 0, 'README.md has no "## Architecture" section');
  const section = readme.slice(start + 1, readme.indexOf('\n## ', start + 1));
  const paths = [...section.matchAll(/`((?:server|routes|segmentation|model)\/[\w./-]*)`/g)].map((match) => match[1]);
  assert.ok(paths.length >= 15, `only ${paths.length} paths found`);
  const missing = paths.filter((path) => !existsSync(new URL(path, root)));
  assert.deepEqual(missing, []);
});
