/**
 * How a segmentation runs: one whole-image pass, mmsegmentation's sliding window, and test-time augmentation over
 * scales and a horizontal flip. Parsing and checking of the parameters, shared by the CLI and HTTP.
 */
import { InvalidArgumentError } from '../errors.js';
import { slideWindowGrid } from './windows.js';

export const INFERENCE_MODES = ['whole', 'slide'] as const;
export type InferenceMode = (typeof INFERENCE_MODES)[number];

/** A window extent or step in pixels, height first as in mmsegmentation's `crop_size=(512, 1024)`. */
export interface WindowSize {
  height: number;
  width: number;
}

export interface InferenceModeOptions {
  mode: InferenceMode;
  /** `slide`: window size (h x w). */
  crop: WindowSize;
  /** `slide`: step between windows (h x w), each within 1..crop. */
  stride: WindowSize;
  /** Test-time augmentation: ratios of the inference-size policy's size; `[1]` = none. */
  scales: readonly number[];
  /** Test-time augmentation: also run the horizontally flipped image. */
  flip: boolean;
  /** Most network runs one segmentation may take (scales x flips x windows). */
  maxForwardPasses: number;
}

/** mmsegmentation's Cityscapes setting for 512x1024 crops (configs/_base_/models/*: `test_cfg` mode='slide'). */
export const DEFAULT_CROP: WindowSize = { height: 512, width: 1024 };
export const DEFAULT_STRIDE: WindowSize = { height: 341, width: 683 };
export const DEFAULT_MAX_FORWARD_PASSES = 64;
/** Largest scale ratio accepted: beyond it a pass costs more than it can tell. */
export const MAX_SCALE = 8;

export const DEFAULT_INFERENCE_MODE: InferenceModeOptions = {
  mode: 'whole',
  crop: DEFAULT_CROP,
  stride: DEFAULT_STRIDE,
  scales: [1],
  flip: false,
  maxForwardPasses: DEFAULT_MAX_FORWARD_PASSES,
};

/** What a segmentation reports about how it ran (JSON output). */
export interface InferenceModeReport {
  mode: InferenceMode;
  crop?: WindowSize;
  stride?: WindowSize;
  scales: number[];
  flip: boolean;
  forwardPasses: number;
}

/** `512x1024` → { height: 512, width: 1024 }; `what` names the parameter in the error. */
export function parseWindowSize(text: string, what: string): WindowSize {
  const match = /^\s*(-?\d+)\s*x\s*(-?\d+)\s*$/i.exec(text);
  if (!match) throw new InvalidArgumentError(`${what} must be HxW (e.g. 512x1024), got '${text}'`);
  return { height: Number(match[1]), width: Number(match[2]) };
}

/** `0.5,0.75,1` → [0.5, 0.75, 1]; `what` names the parameter in the error. */
export function parseScales(text: string, what = 'scales'): number[] {
  const parts = text.split(',').map((part) => part.trim());
  const scales = parts.map(Number);
  const bad = parts.filter((part, i) => part === '' || !Number.isFinite(scales[i]));
  if (bad.length > 0) throw new InvalidArgumentError(`${what} must be a comma-separated list of numbers, got '${text}'`);
  return scales;
}

/** True when the options ask for more than today's single whole-image pass. */
export function isPlainWhole(opts: InferenceModeOptions): boolean {
  return opts.mode === 'whole' && !isAugmented(opts);
}

/** Test-time augmentation: any scale other than a single 1, or the flip. */
export function isAugmented(opts: InferenceModeOptions): boolean {
  return opts.flip || opts.scales.length !== 1 || opts.scales[0] !== 1;
}

function formatSize(size: WindowSize): string {
  return `${size.height}x${size.width}`;
}

/** The mode parameters as text, as a request's query or a models-file entry gives them; absent = the default's. */
export interface InferenceModeText {
  mode?: string;
  crop?: string;
  stride?: string;
  scales?: string;
  flip?: boolean;
}

/**
 * Given parameters over `defaults`, each parsed by its parser and the whole checked: one reading of the mode
 * parameters for HTTP and the models file. Throws InvalidArgumentError naming the parameter.
 */
export function inferenceModeFromText(
  given: InferenceModeText,
  defaults: Omit<InferenceModeOptions, 'maxForwardPasses'>,
  maxForwardPasses: number,
): InferenceModeOptions {
  const options: InferenceModeOptions = {
    mode: (given.mode ?? defaults.mode) as InferenceMode,
    crop: given.crop === undefined ? defaults.crop : parseWindowSize(given.crop, 'crop'),
    stride: given.stride === undefined ? defaults.stride : parseWindowSize(given.stride, 'stride'),
    scales: given.scales === undefined ? defaults.scales : parseScales(given.scales),
    flip: given.flip ?? defaults.flip,
    maxForwardPasses,
  };
  checkInferenceModeOptions(options);
  return options;
}

/**
 * Throws InvalidArgumentError naming the parameter that cannot work: a crop or stride that is not positive, a
 * stride larger than the crop (rows or columns no window covers), a scale outside (0, MAX_SCALE], no scales, a cap
 * below 1. A crop larger than the image is fine: it means one window along that axis.
 */
export function checkInferenceModeOptions(opts: InferenceModeOptions): void {
  if (!(INFERENCE_MODES as readonly string[]).includes(opts.mode)) {
    throw new InvalidArgumentError(`mode must be one of ${INFERENCE_MODES.join(', ')}, got '${String(opts.mode)}'`);
  }
  const positive = (n: number) => Number.isInteger(n) && n >= 1;
  if (!positive(opts.crop.height) || !positive(opts.crop.width)) {
    throw new InvalidArgumentError(`crop must be positive whole pixels, got ${formatSize(opts.crop)}`);
  }
  if (!positive(opts.stride.height) || !positive(opts.stride.width)) {
    throw new InvalidArgumentError(`stride must be positive whole pixels, got ${formatSize(opts.stride)}`);
  }
  if (opts.stride.height > opts.crop.height || opts.stride.width > opts.crop.width) {
    throw new InvalidArgumentError(
      `stride ${formatSize(opts.stride)} is larger than the crop ${formatSize(opts.crop)}: pixels between windows would get no prediction`,
    );
  }
  if (opts.scales.length === 0) throw new InvalidArgumentError('scales must list at least one ratio');
  const badScale = opts.scales.find((s) => !(Number.isFinite(s) && s > 0 && s <= MAX_SCALE));
  if (badScale !== undefined) throw new InvalidArgumentError(`scales must be ratios in (0, ${MAX_SCALE}], got ${badScale}`);
  if (!positive(opts.maxForwardPasses)) {
    throw new InvalidArgumentError(`the forward-pass cap must be a positive integer, got ${opts.maxForwardPasses}`);
  }
}

/** (width, height) of the policy's image resized by `scale`, as mmsegmentation's Resize rounds: int(x * s + 0.5). */
export function scaledDims(width: number, height: number, scale: number): { width: number; height: number } {
  return { width: Math.max(1, Math.floor(width * scale + 0.5)), height: Math.max(1, Math.floor(height * scale + 0.5)) };
}

/** Network runs for an image the policy sized (width x height): per scale and flip, 1 (whole) or the window count. */
export function countForwardPasses(opts: InferenceModeOptions, width: number, height: number): number {
  const flips = opts.flip ? 2 : 1;
  let passes = 0;
  for (const scale of opts.scales) {
    const dims = scaledDims(width, height, scale);
    passes += flips * (opts.mode === 'slide' ? slideWindowGrid(dims.height, dims.width, opts.crop, opts.stride).count : 1);
  }
  return passes;
}

/** countForwardPasses, throwing InvalidArgumentError (naming what to change) when it is over the cap. */
export function checkForwardPasses(opts: InferenceModeOptions, width: number, height: number): number {
  const passes = countForwardPasses(opts, width, height);
  if (passes > opts.maxForwardPasses) {
    const what =
      opts.mode === 'slide'
        ? `mode=slide with crop ${formatSize(opts.crop)} and stride ${formatSize(opts.stride)}, ${opts.scales.length} scale(s)${opts.flip ? ' and flip' : ''}`
        : `${opts.scales.length} scale(s)${opts.flip ? ' and flip' : ''}`;
    throw new InvalidArgumentError(
      `${what} on a ${width}x${height} image needs ${passes} forward passes, more than the cap of ${opts.maxForwardPasses} ` +
        '(use a larger stride or crop, fewer scales, or raise the cap: --max-forward-passes, CITYSEG_MAX_FORWARD_PASSES)',
    );
  }
  return passes;
}

/**
 * Refuses (InvalidArgumentError, before any pass) options under which a forward pass would see fewer than `minSide`
 * pixels a side on the policy's width x height image: a slide window (min(crop, scaled image)) or a scaled image.
 */
export function checkMinimumSide(opts: InferenceModeOptions, dims: { width: number; height: number }, minSide: number): void {
  for (const scale of opts.scales) {
    const scaled = scaledDims(dims.width, dims.height, scale);
    const pass = opts.mode === 'slide'
      ? { width: Math.min(opts.crop.width, scaled.width), height: Math.min(opts.crop.height, scaled.height) }
      : scaled;
    if (Math.min(pass.width, pass.height) < minSide) {
      const what = opts.mode === 'slide' ? `mode=slide with crop ${formatSize(opts.crop)} at scale ${scale}` : `scale ${scale}`;
      throw new InvalidArgumentError(
        `${what} runs a ${pass.width}x${pass.height} forward pass, under this model's minimum of ${minSide} pixels a side ` +
          `(use crops and scales that keep every pass at ${minSide} or more)`,
      );
    }
  }
}

/** The report of a run with these options and this many passes. */
export function modeReport(opts: InferenceModeOptions, forwardPasses: number): InferenceModeReport {
  const slide = opts.mode === 'slide' ? { crop: { ...opts.crop }, stride: { ...opts.stride } } : {};
  return { mode: opts.mode, ...slide, scales: [...opts.scales], flip: opts.flip, forwardPasses };
}
