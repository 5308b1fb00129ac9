import { checkClassMap } from './class-map.js';
import type { LabelSet, Rgb } from './labels/types.js';
import { classMapRles, type CocoRle } from './rle.js';
import type { ClassMap } from './types.js';

export interface ClassStat {
  index: number;
  id: number;
  name: string;
  color: Rgb;
  pixels: number;
  /** pixels / (width * height) */
  fraction: number;
  rle?: CocoRle;
}

/**
 * Per class of the label set present in the map: its pixel count and share, and with `rle` its
 * COCO RLE mask. Sorted by index. Values outside the label set (e.g. ignore 255) are not reported.
 */
export function classStats(map: ClassMap, labelSet: LabelSet, opts: { rle?: boolean } = {}): ClassStat[] {
  checkClassMap(map);
  const histogram = new Float64Array(256);
  for (let p = 0; p < map.data.length; p++) histogram[map.data[p]]++;
  const total = map.data.length;
  const rles = opts.rle ? classMapRles(map) : undefined;
  return labelSet.classes
    .filter((c) => histogram[c.index] > 0)
    .sort((a, b) => a.index - b.index)
    .map((c) => {
      const stat: ClassStat = {
        index: c.index,
        id: c.id,
        name: c.name,
        color: [...c.color],
        pixels: histogram[c.index],
        fraction: histogram[c.index] / total,
      };
      const rle = rles?.get(c.index);
      if (rle) stat.rle = rle;
      return stat;
    });
}
