/** A decoded image: 8-bit RGB, interleaved, row-major, `width * height * 3` bytes. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Per-pixel class indices (trainIds for Cityscapes), row-major, `width * height` bytes. */
export interface ClassMap {
  data: Uint8Array;
  width: number;
  height: number;
}
