/**
 * `cityseg segment` on videos, run as the compiled CLI: the MP4s' frame count, size and rate, per-frame masks equal
 * to image segmentation of the same frames extracted by ffmpeg, the JSONL, sampling, rotation, hostile files, and
 * Ctrl-C. After each test no ffmpeg process and no partial file is left.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { decode as decodePng } from 'fast-png';
import { loadModel } from '../model/load-model.js';
import type { LoadedModel } from '../model/loaded-model.js';
import { segmentImage } from '../segmentation/pipeline.js';
import { decodeImage } from '../segmentation/decode.js';
import { CLI_BIN, cliEnv, runCli, tempDir } from './cli-helpers.js';
import {
  extractFrames,
  ffmpeg,
  hostileVideos,
  probeFacts,
  REAL_FRAME,
  REAL_SKIP,
  rotatedCopy,
  testVideo,
  toolProcessesMentioning,
  vfrVideo,
} from './video-helpers.js';

const MODEL = ['--arch', 'lraspp_mobilenet_v3_large', '--num-classes', '19', '--size', '256'];

async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String).sort();
}

/** Every frame's trainIds mask from `<stem>_frames/`, against the in-process image pipeline on the extracted PNG. */
async function assertFramesEqualImagePath(model: LoadedModel, video: string, framesDir: string, scratch: string): Promise<number> {
  await mkdir(scratch, { recursive: true });
  const pngs = await extractFrames(video, scratch);
  let classesSeen = new Set<number>();
  for (let i = 0; i < pngs.length; i++) {
    const expected = (await segmentImage(model.engine, await readFile(pngs[i]), { size: 256, maxPixels: 1e8 })).classMap;
    const written = decodePng(await readFile(path.join(framesDir, `${String(i).padStart(6, '0')}_trainIds.png`)));
    assert.equal(written.width, expected.width);
    assert.equal(written.height, expected.height);
    assert.deepEqual(Buffer.from(written.data as Uint8Array), Buffer.from(expected.data), `frame ${i} differs from the image path`);
    classesSeen = new Set([...classesSeen, ...expected.data]);
  }
  // An untrained model may paint one class everywhere; more than one shows the comparison can fail.
  assert.ok(classesSeen.size > 1, `the frames hold classes ${[...classesSeen]}`);
  return pngs.length;
}

describe('cityseg segment with videos', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let model: LoadedModel;

  before(async () => {
    ({ dir, cleanup } = await tempDir('video-cli'));
    model = await loadModel({ arch: 'lraspp_mobilenet_v3_large', numClasses: 19 });
  });
  after(async () => {
    model.engine.dispose();
    await cleanup();
  });
  afterEach(async () => {
    assert.deepEqual(await toolProcessesMentioning(dir), [], 'an ffmpeg process outlived its test');
    const leftovers = (await filesUnder(dir)).filter((name) => /\.partial-\d+/.test(name));
    assert.deepEqual(leftovers, [], 'a partial file outlived its test');
  });

  it('writes overlay and color MP4s with the input size, rate and frame count, the JSONL, and per-frame masks equal to the image path', async () => {
    const video = path.join(dir, 'drive.mp4');
    await testVideo(video, { width: 96, height: 64, rate: 5, frames: 8 });
    const out = path.join(dir, 'out');
    const result = await runCli(['segment', ...MODEL, '--format', 'overlay,color,trainIds', '--frames', '--rle', '--out', out, video]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /drive\.mp4: 8 frames in [\d.]+ s \([\d.]+ frames\/s\)/);
    for (const name of ['drive_overlay.mp4', 'drive_color.mp4']) {
      const facts = await probeFacts(path.join(out, name));
      assert.deepEqual(facts, { width: 96, height: 64, rate: '5/1', frames: 8, codec: 'h264', pixFmt: 'yuv420p', audio: false }, name);
    }
    const lines = (await readFile(path.join(out, 'drive.jsonl'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual(lines.map((line) => line.frame), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(lines.map((line) => line.time), [0, 0.2, 0.4, 0.6, 0.8, 1, 1.2, 1.4]);
    for (const line of lines) {
      const total = line.classes.reduce((sum: number, c: { fraction: number }) => sum + c.fraction, 0);
      assert.ok(Math.abs(total - 1) < 1e-9, `shares of frame ${line.frame} sum to ${total}`);
      for (const c of line.classes) assert.deepEqual(c.rle.size, [64, 96]);
    }
    const frames = await assertFramesEqualImagePath(model, video, path.join(out, 'drive_frames'), path.join(dir, 'extracted'));
    assert.equal(frames, 8);
    // The colour video shows the masks: its first frame decodes close to the colour PNG (H.264 is lossy).
    await ffmpeg('-i', path.join(out, 'drive_color.mp4'), '-frames:v', '1', path.join(dir, 'color0.png'));
    const fromVideo = await decodeImage(await readFile(path.join(dir, 'color0.png')), { maxPixels: 1e8 });
    const fromPng = await decodeImage(await readFile(path.join(out, 'drive_frames', '000000_color.png')).catch(() => Buffer.alloc(0)), { maxPixels: 1e8 }).catch(() => undefined);
    assert.equal(fromVideo.width, 96);
    if (fromPng) {
      let diff = 0;
      for (let i = 0; i < fromPng.data.length; i++) diff += Math.abs(fromPng.data[i] - fromVideo.data[i]);
      assert.ok(diff / fromPng.data.length < 12, `mean difference ${diff / fromPng.data.length}`);
    }
  });

  it('samples with --every and --max-frames (rate divided, frames counted) and skips a video whose outputs exist', async () => {
    const video = path.join(dir, 'sample.mp4');
    await testVideo(video, { width: 64, height: 48, rate: 10, frames: 20 });
    const out = path.join(dir, 'sampled');
    const every = await runCli(['segment', ...MODEL, '--format', 'overlay', '--every', '3', '--out', out, video]);
    assert.equal(every.code, 0, every.stderr);
    assert.deepEqual(await probeFacts(path.join(out, 'sample_overlay.mp4')), { width: 64, height: 48, rate: '10/3', frames: 7, codec: 'h264', pixFmt: 'yuv420p', audio: false });
    const times = (await readFile(path.join(out, 'sample.jsonl'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line).time);
    assert.deepEqual(times, [0, 0.3, 0.6, 0.9, 1.2, 1.5, 1.8]);
    const again = await runCli(['segment', ...MODEL, '--format', 'overlay', '--every', '3', '--out', out, video]);
    assert.match(again.stderr, /processed 0, skipped 1, failed 0/);
    const capped = await runCli(['segment', ...MODEL, '--format', 'color', '--fps', '5', '--max-frames', '4', '--overwrite', '--out', out, video]);
    assert.equal(capped.code, 0, capped.stderr);
    assert.deepEqual(await probeFacts(path.join(out, 'sample_color.mp4')), { width: 64, height: 48, rate: '5/1', frames: 4, codec: 'h264', pixFmt: 'yuv420p', audio: false });
  });

  it('keeps a variable frame rate video\'s frame count and reports each frame\'s own time', async () => {
    const video = path.join(dir, 'vfr.mp4');
    const times = await vfrVideo(video);
    const out = path.join(dir, 'vfr-out');
    const result = await runCli(['segment', ...MODEL, '--format', 'overlay', '--out', out, video]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal((await probeFacts(path.join(out, 'vfr_overlay.mp4'))).frames, 10);
    const lines = (await readFile(path.join(out, 'vfr.jsonl'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual(lines.map((line) => line.time), times);
  });

  it('segments a rotated phone video upright, as ffmpeg displays it and extracts its frames', async () => {
    const upright = path.join(dir, 'upright.mp4');
    await testVideo(upright, { width: 96, height: 64, rate: 5, frames: 4 });
    const video = path.join(dir, 'phone.mp4');
    await rotatedCopy(upright, video);
    const out = path.join(dir, 'phone-out');
    const result = await runCli(['segment', ...MODEL, '--format', 'overlay,trainIds', '--frames', '--out', out, video]);
    assert.equal(result.code, 0, result.stderr);
    const facts = await probeFacts(path.join(out, 'phone_overlay.mp4'));
    assert.deepEqual([facts.width, facts.height, facts.frames], [64, 96, 4]);
    assert.equal(await assertFramesEqualImagePath(model, video, path.join(out, 'phone_frames'), path.join(dir, 'phone-extracted')), 4);
  });

  it('segments frames of a real street video exactly like the same frames as images', { skip: REAL_SKIP }, async () => {
    // A slow pan across the Cityscapes frame, 256x128, 6 frames.
    const video = path.join(dir, 'street.mp4');
    await ffmpeg('-loop', '1', '-i', REAL_FRAME, '-vf', "scale=512:256,crop=256:128:'t*40':64", '-r', '10', '-frames:v', '6', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', video);
    const out = path.join(dir, 'street-out');
    const result = await runCli(['segment', ...MODEL, '--format', 'trainIds,overlay', '--frames', '--out', out, video]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await assertFramesEqualImagePath(model, video, path.join(out, 'street_frames'), path.join(dir, 'street-extracted')), 6);
  });

  it('reports each hostile file on its own line, writes nothing for it, and still segments the good video', async () => {
    const hostile = path.join(dir, 'hostile');
    await mkdir(hostile);
    const files = await hostileVideos(hostile);
    const good = path.join(hostile, 'good.mp4');
    await testVideo(good, { width: 64, height: 48, rate: 10, frames: 3 });
    const out = path.join(dir, 'hostile-out');
    const result = await runCli(['segment', ...MODEL, '--format', 'overlay', '--out', out, good, ...Object.values(files)]);
    assert.equal(result.code, 1, result.stderr);
    const expected: Record<string, RegExp> = {
      truncated: /truncated\.mp4: .*(truncated|cannot be read|could not decode)/,
      text: /text\.mp4: .*not a video ffmpeg can read/,
      audioOnly: /audio-only\.mp4: .*has no video stream/,
      zeroFrames: /zero-frames\.mp4: .*(no video stream|no video frames)/,
      billionFrames: /billion-frames\.avi: .*declares 1000000000 frames, over the limit of 10000000/,
      hugeFrames: /huge-frames\.y4m: .*(cannot be read|over the limit)/,
      largeFrames: /large-frames\.y4m: .*(holds no video frames|truncated|cannot be read)/,
    };
    for (const [name, pattern] of Object.entries(expected)) assert.match(result.stderr, pattern, `${name}:\n${result.stderr}`);
    assert.match(result.stderr, /good\.mp4: 3 frames/);
    assert.deepEqual(await readdir(out), ['good.jsonl', 'good_overlay.mp4']);
  });

  it('Ctrl-C (SIGINT to the process group) stops at a frame boundary, removes the video\'s partial files and exits with 130', async () => {
    const video = path.join(dir, 'long.mp4');
    await testVideo(video, { width: 320, height: 240, rate: 25, frames: 1500 });
    const out = path.join(dir, 'interrupted');
    // In a process group of its own, so the interrupt reaches it and its ffmpeg children as a terminal's Ctrl-C does.
    const child = spawn(process.execPath, [CLI_BIN, 'segment', ...MODEL, '--format', 'overlay,color', '--frames', '--out', out, video], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    // Once frames are being written (the partial frame folder exists and holds a few), interrupt.
    for (;;) {
      const names = await filesUnder(out).catch(() => [] as string[]);
      if (names.filter((name) => name.endsWith('_color.png')).length >= 3) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    process.kill(-child.pid!, 'SIGINT');
    assert.equal(await exited, 130, stderr);
    assert.match(stderr, /interrupted: .*long\.mp4 left no output/);
    assert.deepEqual(await readdir(out), []);
  });
});
