/** `cityseg weights list` and `cityseg weights fetch`: torchvision's and fastseg's published weights by name, and the cache. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { WeightsError } from '../../model/weights/errors.js';
import { activePresets, CITYSCAPES_TERMS, FASTSEG_BASE_URL, isPresetName, presetUrl, type WeightsPreset } from '../../model/weights/presets.js';
import { isPresetCached, presetCachePath, resolveWeights } from '../../model/weights/source.js';
import { commandFetchOptions } from '../command-model.js';

interface CacheFlags {
  cacheDir?: string;
}

function cacheOption(): Option {
  return new Option('--cache-dir <dir>', 'where downloaded weights are cached').env('CITYSEG_CACHE_DIR');
}

function formatMetrics(preset: WeightsPreset): string {
  if (!preset.metrics) return 'none published';
  return `${Object.entries(preset.metrics.values).map(([name, value]) => `${name} ${value}`).join(', ')} (${preset.metrics.dataset})`;
}

/** One row per preset: name, arch, classes, label set, metrics, cached. */
export function formatPresetTable(rows: { preset: WeightsPreset; cached: boolean }[]): string {
  const header = ['name', 'arch', 'classes', 'labels', 'metrics', 'cached'];
  const cells = rows.map(({ preset, cached }) => [
    `${preset.name}${preset.isDefault ? ' (default)' : ''}`,
    preset.arch,
    String(preset.numClasses),
    preset.labels,
    formatMetrics(preset),
    cached ? 'yes' : 'no',
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((row) => row[column].length)));
  return [header, ...cells].map((row) => row.map((cell, column) => cell.padEnd(widths[column])).join('  ').trimEnd()).join('\n');
}

async function listAction(flags: CacheFlags & { json?: boolean }): Promise<void> {
  const { mirror } = commandFetchOptions();
  const rows = await Promise.all(activePresets().map(async (preset) => ({ preset, cached: await isPresetCached(preset, flags.cacheDir) })));
  if (!flags.json) {
    process.stdout.write(`${formatPresetTable(rows)}\n`);
    return;
  }
  const described = rows.map(({ preset, cached }) => ({
    ...preset,
    url: presetUrl(preset, mirror),
    cached,
    path: presetCachePath(preset, flags.cacheDir),
  }));
  process.stdout.write(`${JSON.stringify(described, null, 2)}\n`);
}

/** `weights list`: the presets, marked cached or not (`--json` adds URL, hash, size, preprocessing and cache path). */
export function weightsListCommand(): Command {
  return new Command('list')
    .description("torchvision's and fastseg's published weights this cityseg can serve by name, and whether each is cached")
    .option('--json', 'one JSON array of presets with every fact (URL, sha256, bytes, preprocessing, metrics, cache path)')
    .addOption(cacheOption())
    .action(listAction);
}

function parsePresetName(value: string, previous: string[] = []): string[] {
  if (!isPresetName(value)) throw new InvalidArgumentError(`expected a preset name such as fastseg:mobilev3large-lraspp-f128 or torchvision:lraspp_mobilenet_v3_large, got '${value}'`);
  return [...previous, value];
}

async function fetchAction(names: string[], flags: CacheFlags): Promise<void> {
  const fetchOptions = { ...commandFetchOptions(), cacheDir: flags.cacheDir };
  const failures: string[] = [];
  for (const name of names) {
    try {
      const resolved = await resolveWeights(name, fetchOptions);
      process.stdout.write(`${resolved.source}: ${resolved.path} (sha256 ${resolved.sha256})\n`);
    } catch (error) {
      if (!(error instanceof WeightsError)) throw error;
      process.stderr.write(`cityseg: ${error.message}\n`);
      failures.push(name);
    }
  }
  if (failures.length > 0) throw new WeightsError(`could not fetch ${failures.join(', ')}`);
}

/** `weights fetch NAME...`: fills the cache ahead of time (a Docker build, an init container); exit 3 on failure. */
export function weightsFetchCommand(): Command {
  return new Command('fetch')
    .description('download presets into the cache, verified, so that serve/segment/classify start without network')
    .argument('<name...>', 'preset names: fastseg:<variant>, torchvision:<arch>.<VARIANT>, or torchvision:<arch> for its default', (value, previous: string[] | undefined) =>
      parsePresetName(value, previous),
    )
    .addOption(cacheOption())
    .addHelpText(
      'after',
      `
CITYSEG_WEIGHTS_MIRROR replaces both https://download.pytorch.org/models/ and fastseg's release folder
${FASTSEG_BASE_URL} (one folder holding the files of both); CITYSEG_DOWNLOAD_IDLE_TIMEOUT_MS and
CITYSEG_DOWNLOAD_MAX_BYTES bound each download. fastseg's weights are ${CITYSCAPES_TERMS}; fastseg never checks
the hash prefix in its file names, so a mismatch only warns (with the file's SHA-256).

Examples:
  cityseg weights fetch fastseg:mobilev3large-lraspp-f128 torchvision:lraspp_mobilenet_v3_large torchvision:mobilenet_v3_large
  CITYSEG_CACHE_DIR=/cache cityseg weights fetch torchvision:mobilenet_v3_small.IMAGENET1K_V1`,
    )
    .action(fetchAction);
}
