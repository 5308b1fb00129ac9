import { ShapeError } from './errors.js';
import type { ClassMap, RgbImage } from './types.js';

/** A class map stores one byte per pixel, so a model can have at most 256 classes. */
export const MAX_CLASSES = 256;

/** Throw unless `map.data` holds exactly width x height bytes. */
export function checkClassMap(map: ClassMap): void {
  if (!(Number.isInteger(map.width) && Number.isInteger(map.height) && map.width >= 1 && map.height >= 1)) {
    throw new ShapeError(`class map size must be positive integers, got ${map.width}x${map.height}`);
  }
  if (map.data.length !== map.width * map.height) {
    throw new ShapeError(`class map of ${map.width}x${map.height} needs ${map.width * map.height} bytes, has ${map.data.length}`);
  }
}

/** Throw unless `img` is a well-formed RgbImage of the class map's size. */
export function checkSameSize(img: RgbImage, map: ClassMap): void {
  if (img.width !== map.width || img.height !== map.height) {
    throw new ShapeError(`image is ${img.width}x${img.height} but class map is ${map.width}x${map.height}`);
  }
  if (img.data.length !== img.width * img.height * 3) {
    throw new ShapeError(`RgbImage of ${img.width}x${img.height} needs ${img.width * img.height * 3} bytes, has ${img.data.length}`);
  }
}
