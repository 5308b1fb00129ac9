/**
 * Published weights as data, like torchvision's WeightsEnum (torchvision/models/*.py, 0.14): each preset names a
 * checkpoint under its publisher's download folder and the facts its publisher records for it. torchvision's are
 * `torchvision:<arch>.<VARIANT>` (`torchvision:<arch>` is that arch's DEFAULT); fastseg's (ekzhang/fastseg,
 * release v0.1-weights, its README's figures) are `fastseg:<file name without its hash>`.
 */
import { readFileSync } from 'node:fs';
import { ARCH_NAMES, isArchName, type ArchName } from '../architectures.js';
import { WeightsError } from './errors.js';

/** Where torchvision publishes its checkpoints; CITYSEG_WEIGHTS_MIRROR replaces it. */
export const TORCHVISION_BASE_URL = 'https://download.pytorch.org/models/';
/** Where fastseg publishes its checkpoints; CITYSEG_WEIGHTS_MIRROR replaces it too (one folder holds both's files). */
export const FASTSEG_BASE_URL = 'https://github.com/ekzhang/fastseg/releases/download/v0.1-weights/';

export const PRESET_PREFIX = 'torchvision:';

export type PresetPublisher = 'torchvision' | 'fastseg';

/** Each publisher's name prefix and download folder. */
export const PUBLISHERS: Readonly<Record<PresetPublisher, { prefix: string; baseUrl: string }>> = {
  torchvision: { prefix: PRESET_PREFIX, baseUrl: TORCHVISION_BASE_URL },
  fastseg: { prefix: 'fastseg:', baseUrl: FASTSEG_BASE_URL },
};

/** Cityscapes' terms, which come with any weights trained on it. */
export const CITYSCAPES_TERMS = 'trained on Cityscapes, whose licence allows non-commercial use only (www.cityscapes-dataset.com/license)';

/** The transform the weights were evaluated with (torchvision's `weights.transforms()`), bilinear resize. */
export interface PresetPreprocessing {
  /** `resize_size`: the short side is resized to this many pixels; null: the image as it is (fastseg). */
  resizeShortSide: number | null;
  /** `crop_size`: a centre crop of this side after the resize (classifiers only). */
  cropSize?: number;
}

export interface WeightsPreset {
  /** `torchvision:<arch>.<VARIANT>` or `fastseg:<variant>`. */
  name: string;
  /** Default torchvision. */
  publisher?: PresetPublisher;
  arch: ArchName;
  /** torchvision's enum member, e.g. `IMAGENET1K_V2`; fastseg's file name without its hash. */
  variant: string;
  /** fastseg's head width F. */
  filters?: number;
  /** `sum(p.numel() for p in model.parameters())` of the network the file fills (tested against the spec). */
  parameterCount?: number;
  /**
   * `warn`: the file name's hash prefix is checked but a mismatch only warns, reporting the digest. fastseg never
   * checks its prefixes and they could not be confirmed against the files, so a wrong one must not make the
   * default model unusable; a damaged file still fails to load (strict keys and shapes).
   */
  prefixCheck?: 'warn';
  /** Terms of use that come with the weights (the training data's licence). */
  terms?: string;
  /** Whether `torchvision:<arch>` (torchvision's `DEFAULT`) means this preset. */
  isDefault: boolean;
  /** File name under the download folder; torch.hub's `-<sha256 prefix>.` is part of it. */
  file: string;
  /** Full SHA-256 of the file, hex, where it is known; else only the file name's prefix is checked. */
  sha256?: string;
  /** Exact size of the file in bytes, where known; a download larger than this stops there. */
  bytes?: number;
  numClasses: number;
  /** The classes the outputs mean: a label set name (`voc`, `cityscapes`) or `imagenet`. */
  labels: string;
  preprocessing: PresetPreprocessing;
  /** What the publisher reports (torchvision's `meta["_metrics"]`, fastseg's README), on the dataset named; none published → absent. */
  metrics?: { dataset: string; values: Record<string, number> };
}

/** fastseg's five published checkpoints, ImageNet mean/std on the unresized image (fastseg's `predict`). */
function fastsegPreset(arch: ArchName, file: string, filters: number, parameterCount: number, isDefault: boolean, miou?: number): WeightsPreset {
  const variant = file.replace(/-[0-9a-f]{8}\.pt$/, '');
  return {
    name: `${PUBLISHERS.fastseg.prefix}${variant}`,
    publisher: 'fastseg',
    arch,
    variant,
    filters,
    parameterCount,
    isDefault,
    file,
    prefixCheck: 'warn',
    terms: CITYSCAPES_TERMS,
    numClasses: 19,
    labels: 'cityscapes',
    preprocessing: { resizeShortSide: null },
    ...(miou === undefined ? {} : { metrics: { dataset: 'Cityscapes-val', values: { miou } } }),
  };
}

export const FASTSEG_PRESETS: readonly WeightsPreset[] = [
  fastsegPreset('fastseg_mobilev3_large', 'mobilev3large-lraspp-f128-9cbabfde.pt', 128, 3_284_547, true, 72.3),
  fastsegPreset('fastseg_mobilev3_large', 'mobilev3large-lraspp-f256-9b613ffd.pt', 256, 3_693_379, false, 72.3),
  fastsegPreset('fastseg_mobilev3_small', 'mobilev3small-lraspp-f256-d853f901.pt', 256, 1_451_315, true, 67.1),
  fastsegPreset('fastseg_mobilev3_small', 'mobilev3small-lraspp-f128-a39a1e4b.pt', 128, 1_140_787, false),
  fastsegPreset('fastseg_mobilev3_small', 'mobilev3small-lraspp-f64-114fc23b.pt', 64, 1_022_387, false),
];

/** The default segmentation weights: fastseg's Cityscapes-trained MobileV3Large, F = 128. */
export const DEFAULT_SEGMENTATION_PRESET = 'fastseg:mobilev3large-lraspp-f128';

/** torchvision 0.14's weights for the architectures cityseg builds. */
export const TORCHVISION_PRESETS: readonly WeightsPreset[] = [
  {
    name: 'torchvision:lraspp_mobilenet_v3_large.COCO_WITH_VOC_LABELS_V1',
    arch: 'lraspp_mobilenet_v3_large',
    variant: 'COCO_WITH_VOC_LABELS_V1',
    isDefault: true,
    file: 'lraspp_mobilenet_v3_large-d234d4ea.pth',
    sha256: 'd234d4eae9d55d5f76de18b77cf0dc62c66fe5c5482758209d00f950c92bb280',
    bytes: 13_097_061,
    numClasses: 21,
    labels: 'voc',
    preprocessing: { resizeShortSide: 520 },
    metrics: { dataset: 'COCO-val2017-VOC-labels', values: { miou: 57.9, pixel_acc: 91.2 } },
  },
  {
    name: 'torchvision:mobilenet_v3_large.IMAGENET1K_V1',
    arch: 'mobilenet_v3_large',
    variant: 'IMAGENET1K_V1',
    isDefault: false,
    file: 'mobilenet_v3_large-8738ca79.pth',
    numClasses: 1000,
    labels: 'imagenet',
    preprocessing: { resizeShortSide: 256, cropSize: 224 },
    metrics: { dataset: 'ImageNet-1K', values: { 'acc@1': 74.042, 'acc@5': 91.34 } },
  },
  {
    name: 'torchvision:mobilenet_v3_large.IMAGENET1K_V2',
    arch: 'mobilenet_v3_large',
    variant: 'IMAGENET1K_V2',
    isDefault: true,
    file: 'mobilenet_v3_large-5c1a4163.pth',
    numClasses: 1000,
    labels: 'imagenet',
    preprocessing: { resizeShortSide: 232, cropSize: 224 },
    metrics: { dataset: 'ImageNet-1K', values: { 'acc@1': 75.274, 'acc@5': 92.566 } },
  },
  {
    name: 'torchvision:mobilenet_v3_small.IMAGENET1K_V1',
    arch: 'mobilenet_v3_small',
    variant: 'IMAGENET1K_V1',
    isDefault: true,
    file: 'mobilenet_v3_small-047dcff4.pth',
    numClasses: 1000,
    labels: 'imagenet',
    preprocessing: { resizeShortSide: 256, cropSize: 224 },
    metrics: { dataset: 'ImageNet-1K', values: { 'acc@1': 67.668, 'acc@5': 87.402 } },
  },
];

/** Every publisher's presets. */
export const PRESETS: readonly WeightsPreset[] = [...FASTSEG_PRESETS, ...TORCHVISION_PRESETS];

/**
 * Test-only hook: the path of a JSON array of presets that replaces torchvision's table, so the tests run the
 * real download, verification and default-model code against files they serve from 127.0.0.1.
 */
export const TEST_PRESETS_ENV = 'CITYSEG_TEST_PRESETS';

function checkPreset(value: unknown, where: string): WeightsPreset {
  const p = value as Partial<WeightsPreset>;
  const fail = (problem: string): never => {
    throw new WeightsError(where, `invalid preset ${JSON.stringify(p?.name)}: ${problem}`);
  };
  if (typeof p !== 'object' || p === null) fail('not an object');
  if (typeof p.arch !== 'string' || !isArchName(p.arch)) fail(`arch must be one of ${ARCH_NAMES.join(', ')}`);
  if (typeof p.variant !== 'string' || !/^\w+$/.test(p.variant)) fail('variant must be a word');
  if (p.publisher !== undefined && !Object.hasOwn(PUBLISHERS, p.publisher)) fail(`publisher must be one of ${Object.keys(PUBLISHERS).join(', ')}`);
  if (p.name !== presetName(p as WeightsPreset)) fail(`name must be ${PRESET_PREFIX}<arch>.<variant> (torchvision) or fastseg:<variant>`);
  if (typeof p.file !== 'string' || p.file.includes('/') || p.file === '') fail('file must be a file name');
  if (!Number.isInteger(p.numClasses) || (p.numClasses as number) < 1) fail('numClasses must be a positive integer');
  if (p.sha256 !== undefined && !/^[0-9a-f]{64}$/.test(p.sha256)) fail('sha256 must be 64 hex digits');
  if (p.bytes !== undefined && !(Number.isInteger(p.bytes) && p.bytes > 0)) fail('bytes must be a positive integer');
  return p as WeightsPreset;
}

/** The presets (PRESETS), or the test table named by CITYSEG_TEST_PRESETS. Throws WeightsError for a bad file. */
export function activePresets(env: NodeJS.ProcessEnv = process.env): readonly WeightsPreset[] {
  const file = env[TEST_PRESETS_ENV];
  if (!file) return PRESETS;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new WeightsError(file, `${TEST_PRESETS_ENV}: ${(cause as Error).message}`, { cause });
  }
  if (!Array.isArray(parsed)) throw new WeightsError(file, `${TEST_PRESETS_ENV}: expected a JSON array of presets`);
  return parsed.map((entry) => checkPreset(entry, file));
}

/** The name a preset must carry: `torchvision:<arch>.<variant>`, `fastseg:<variant>`. */
function presetName(p: Pick<WeightsPreset, 'publisher' | 'arch' | 'variant'>): string {
  return p.publisher === 'fastseg' ? `${PUBLISHERS.fastseg.prefix}${p.variant}` : `${PRESET_PREFIX}${p.arch}.${p.variant}`;
}

export function isPresetName(spec: string): boolean {
  return Object.values(PUBLISHERS).some(({ prefix }) => spec.startsWith(prefix));
}

/** The preset `torchvision:<arch>` names (torchvision's DEFAULT), or undefined when the arch has none. */
export function defaultPresetFor(arch: ArchName, presets: readonly WeightsPreset[] = activePresets()): WeightsPreset | undefined {
  return presets.find((preset) => preset.arch === arch && preset.isDefault);
}

/**
 * `torchvision:<arch>.<VARIANT>` or `torchvision:<arch>` (the default variant) to its preset.
 * Throws WeightsError listing the known names when there is none.
 */
export function findPreset(name: string, presets: readonly WeightsPreset[] = activePresets()): WeightsPreset {
  const found = presets.find((preset) => preset.name === name) ??
    (isArchName(name.slice(PRESET_PREFIX.length)) ? defaultPresetFor(name.slice(PRESET_PREFIX.length) as ArchName, presets) : undefined);
  if (!found) {
    throw new WeightsError(name, `no such preset; known: ${presets.map((preset) => preset.name).join(', ')}`);
  }
  return found;
}

/** The preset's download URL under `mirror` (a base URL; default its publisher's folder). */
export function presetUrl(preset: WeightsPreset, mirror: string = PUBLISHERS[preset.publisher ?? 'torchvision'].baseUrl): string {
  return new URL(preset.file, mirror.endsWith('/') ? mirror : `${mirror}/`).href;
}
