/**
 * The frame worker thread (server/frame-pool.ts, frame-worker.ts): a video frame's stages run there give exactly what
 * they give on this thread, the pixels move there and back, and failures come back as their own error classes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cityscapes } from '../segmentation/labels/index.js';
import { ShapeError } from '../segmentation/errors.js';
import { finishFrame, prepareFrame } from '../segmentation/video/frame-stages.js';
import { startFramePool, type FramePool } from '../server/frame-pool.js';
import { makeImage } from './segmentation-helpers.js';

const drawing = { formats: ['overlay', 'color'] as const, labelSet: cityscapes, alpha: 0.4, rle: true };

/** [1, h, w, 19] logits whose best class changes across the grid, so argmax and the drawings have regions. */
function gridLogits(h: number, w: number) {
  const data = new Float32Array(h * w * 19);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 19; c++) data[(y * w + x) * 19 + c] = Math.sin(c * 0.7 + x * 0.9) + Math.cos(c * 1.3 - y * 1.1);
  return { data, shape: [1, h, w, 19] };
}

describe('frame worker thread', () => {
  let pool: FramePool;
  before(() => (pool = startFramePool(1)));
  after(() => pool.close());

  it('prepares and finishes a frame exactly as the same stages on this thread, moving its pixels there and back', async () => {
    const frame = () => makeImage(97, 61, (x, y) => [(x * 5) % 256, (y * 3) % 256, (x + y) % 256]);
    const local = await prepareFrame(frame(), 48);
    const sent = frame();
    const { image, prepared } = await pool.prepare(sent, 48);
    assert.equal(sent.data.byteLength, 0, 'the frame was copied, not moved');
    assert.deepEqual(image.data, frame().data);
    assert.deepEqual(prepared.inferenceSize, { width: 48, height: 30 });
    assert.deepEqual(prepared.input.shape, local.input.shape);
    assert.deepEqual(prepared.input.data, local.input.data);

    const logits = gridLogits(8, 12);
    const expected = finishFrame(frame(), logits, drawing);
    const { image: back, finished } = await pool.finish(image, logits, drawing);
    assert.deepEqual(back.data, frame().data);
    assert.deepEqual(finished.classMap, expected.classMap);
    assert.ok(new Set(finished.classMap.data).size > 2, 'the class map has regions');
    assert.deepEqual(finished.pictures, expected.pictures);
    assert.deepEqual(finished.classes, expected.classes);
  });

  it('rejects with the error class thrown there, and refuses a frame already moved away instead of hanging', async () => {
    const image = makeImage(8, 6, () => [1, 2, 3]);
    await assert.rejects(pool.finish(image, { data: new Float32Array(4), shape: [4] }, drawing), (error: unknown) => {
      assert.ok(error instanceof ShapeError);
      assert.match(error.message, /must return NHWC logits \[1, h, w, C\], got \[4\]/);
      return true;
    });
    // A failed task keeps the frame it was given: this one is gone, like one moved to prepare.
    assert.equal(image.data.byteLength, 0);
    const fresh = makeImage(8, 6, () => [1, 2, 3]);
    const { image: back } = await pool.prepare(fresh, 4);
    assert.equal(back.data.byteLength, 8 * 6 * 3);
    await assert.rejects(pool.prepare(fresh, 4), { name: 'TypeError', message: 'frame of 8x6 needs 144 bytes, has 0 (moved to another thread already?)' });
  });
});
