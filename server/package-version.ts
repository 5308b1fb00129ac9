import { readFileSync } from 'node:fs';

/**
 * The installed package's version, from its package.json (above server/ in the sources, above dist/server/ when
 * built): what `cityseg --version`, the OpenAPI document's `info.version` and `GET /v2` all report.
 */
function readPackageVersion(): string {
  for (const up of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'cityseg' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // Not this level: try the next.
    }
  }
  return 'unknown';
}

export const PACKAGE_VERSION = readPackageVersion();
