// COCO's compressed RLE string, decoded in one place for the server (segmentation/rle.ts, compiled with it) and for
// the web page (mask.js): plain JavaScript so the browser loads the very file the server runs.

/**
 * pycocotools' `rleFrString` (maskApi.c): a COCO RLE `counts` string → its run lengths (column-major, 0-run first).
 * @param {string} text
 * @returns {number[]}
 * @throws {RangeError} when the string ends inside a count or holds a character outside '0'..'o'
 */
export function countsFromString(text) {
  const counts = [];
  let p = 0;
  while (p < text.length) {
    let x = 0;
    let k = 0;
    let more = true;
    while (more) {
      if (p >= text.length) throw new RangeError(`RLE string ends inside a count at character ${p}`);
      const c = text.charCodeAt(p) - 48;
      if (c < 0 || c > 0x3f) throw new RangeError(`RLE string has invalid character ${JSON.stringify(text[p])} at ${p}`);
      x += (c & 0x1f) * 32 ** k;
      more = (c & 0x20) !== 0;
      p++;
      k++;
      if (!more && c & 0x10) x -= 32 ** k; // sign-extend the last group
    }
    if (counts.length > 2) x += counts[counts.length - 2];
    counts.push(x);
  }
  return counts;
}
