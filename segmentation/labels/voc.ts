import type { LabelSet, Rgb } from './types.js';

/** The 20 Pascal VOC object classes plus background, in the models' channel order. */
export const VOC_CLASS_NAMES = [
  'background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
  'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor',
] as const;

/** VOC marks object boundaries and difficult regions with 255 in its ground truth. */
export const VOC_IGNORE_INDEX = 255;

/**
 * The VOC devkit's colour map (labelcolormap.m): bits 0, 1, 2 of the index go to the top bits of
 * r, g, b, the next three bits to the next-lower bits, and so on.
 */
export function vocPaletteColor(index: number): Rgb {
  const rgb: Rgb = [0, 0, 0];
  let c = index;
  for (let bit = 7; bit >= 0 && c > 0; bit--, c >>= 3) {
    for (let channel = 0; channel < 3; channel++) rgb[channel] |= ((c >> channel) & 1) << bit;
  }
  return rgb;
}

export const voc: LabelSet = {
  name: 'voc',
  classes: VOC_CLASS_NAMES.map((name, index) => ({ index, id: index, name, color: vocPaletteColor(index) })),
  ignoreIndex: VOC_IGNORE_INDEX,
};
