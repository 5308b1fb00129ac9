/**
 * The test-time-scaled copies of an image, resized exactly as cityseg resizes them (inference-modes' scaledDims and
 * resizeRgb, libvips), so the torch reference (scripts/make_slide_fixtures.py, which runs this) sees the same pixels.
 *
 *   node --import tsx scripts/make_slide_inputs.ts IMAGE.png OUT_DIR SCALE... → OUT_DIR/<image>_x<SCALE>.png
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { decodeImage } from '../segmentation/decode.js';
import { resizeRgb } from '../segmentation/preprocess.js';
import { scaledDims } from '../segmentation/inference-modes/options.js';

const [file, outDir, ...scales] = process.argv.slice(2);
if (!file || !outDir || scales.length === 0) {
  process.stderr.write('usage: make_slide_inputs.ts IMAGE.png OUT_DIR SCALE...\n');
  process.exit(2);
}
const image = await decodeImage(await readFile(file), { maxPixels: 1e8 });
for (const text of scales) {
  const { width, height } = scaledDims(image.width, image.height, Number(text));
  const scaled = await resizeRgb(image, width, height);
  const out = path.join(outDir, `${path.basename(file, '.png')}_x${text}.png`);
  await sharp(scaled.data, { raw: { width, height, channels: 3 } }).png().toFile(out);
  process.stdout.write(`${out} ${width}x${height}\n`);
}
