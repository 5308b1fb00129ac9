/**
 * One segmented frame as the video outputs take it: the RGB picture a video format shows (the overlay or the
 * colour mask, as the image formats of segmentation/output-formats.ts draw them) and the frame's JSONL line.
 */
import { blendOverlay, colourise } from '../encode.js';
import type { LabelSet } from '../labels/types.js';
import { classStats, type ClassStat } from '../stats.js';
import type { ClassMap, RgbImage } from '../types.js';

/** The formats a video can be written in. */
export const VIDEO_FORMATS = ['overlay', 'color'] as const;
export type VideoFormat = (typeof VIDEO_FORMATS)[number];

export function isVideoFormat(name: string): name is VideoFormat {
  return (VIDEO_FORMATS as readonly string[]).includes(name);
}

/** The file suffix of each video format: `<stem>_overlay.mp4`. */
export function videoSuffix(format: VideoFormat): string {
  return `_${format}.mp4`;
}

/** The frame in `format`: RGB bytes, `width * height * 3` (overlay: the image blended with alpha, as encodeOverlay). */
export function renderFrame(image: RgbImage, classMap: ClassMap, labelSet: LabelSet, format: VideoFormat, alpha: number): Uint8Array {
  return format === 'overlay' ? blendOverlay(image, classMap, labelSet, alpha).data : colourise(classMap, labelSet);
}

/** A frame's pictures, one per format in `formats`' order, and its classes (as its line holds them). */
export function drawFrame(
  image: RgbImage,
  classMap: ClassMap,
  labelSet: LabelSet,
  opts: { formats: readonly VideoFormat[]; alpha: number; rle: boolean },
): { pictures: Uint8Array[]; classes: FrameClass[] } {
  return {
    pictures: opts.formats.map((format) => renderFrame(image, classMap, labelSet, format, opts.alpha)),
    classes: frameLine(0, 0, classMap, labelSet, opts.rle).classes,
  };
}

/** One class of a frame's line: as in /v1/segment's JSON (index, id, name, colour), its share, and with RLE its mask. */
export type FrameClass = Omit<ClassStat, 'pixels'>;

/** One line of `<name>.jsonl` and of a job's frames.jsonl. */
export interface FrameLine {
  /** 0-based position among the frames segmented. */
  frame: number;
  /** Presentation time, seconds. */
  time: number;
  classes: FrameClass[];
}

/** A presentation time as a line gives it: seconds, to the microsecond. */
export function frameTime(seconds: number): number {
  return Math.round(seconds * 1e6) / 1e6;
}

/** The line of one frame: classes present by index, each with its share (and COCO RLE with `rle`). */
export function frameLine(frame: number, time: number, classMap: ClassMap, labelSet: LabelSet, rle: boolean): FrameLine {
  const classes = classStats(classMap, labelSet, { rle }).map(({ pixels: _pixels, ...rest }) => rest);
  return { frame, time: frameTime(time), classes };
}
