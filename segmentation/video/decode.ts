/**
 * Frames of a video as RGB images, streamed from ffmpeg's stdout (raw rgb24, one frame = width * height * 3 bytes)
 * with each frame's timestamp read from ffmpeg's showinfo filter: memory holds a few frames whatever the length.
 */
import { VideoError, VideoStoppedError } from './errors.js';
import { errorLines, startTool } from './process.js';
import type { VideoInfo } from './probe.js';
import type { VideoTools } from './tools.js';
import type { RgbImage } from '../types.js';

/** Which frames to segment: all (default), `fps` per second, or every `every`-th; at most `maxFrames`. */
export interface FrameSampling {
  fps?: number;
  every?: number;
  maxFrames?: number;
}

export interface DecodedFrame {
  /** 0-based position among the frames segmented. */
  index: number;
  /** Presentation time in seconds (the source's, for every frame and --every; the sampler's for --fps). */
  time: number;
  image: RgbImage;
}

/** Frames the sampling yields from `info` (exact for all frames and --every; from the duration for --fps). */
export function sampledFrameCount(info: Pick<VideoInfo, 'frames' | 'durationSeconds'>, sampling: FrameSampling): number {
  let count = info.frames;
  if (sampling.every !== undefined) count = Math.ceil(info.frames / sampling.every);
  else if (sampling.fps !== undefined) count = Math.max(1, Math.round(info.durationSeconds * sampling.fps));
  return sampling.maxFrames === undefined ? count : Math.min(count, sampling.maxFrames);
}

/** The output's frame rate as ffmpeg's rational text: the input's, divided by --every, or --fps. */
export function sampledRate(info: Pick<VideoInfo, 'rate'>, sampling: FrameSampling): string {
  if (sampling.fps !== undefined) return String(sampling.fps);
  if (sampling.every === undefined || sampling.every === 1) return info.rate;
  const [num, den = '1'] = info.rate.split('/');
  return `${num}/${Number(den) * sampling.every}`;
}

function filterChain(sampling: FrameSampling): string {
  const filters: string[] = [];
  if (sampling.fps !== undefined) filters.push(`fps=${sampling.fps}`);
  else if (sampling.every !== undefined && sampling.every > 1) filters.push(`select=not(mod(n\\,${sampling.every}))`);
  // Only the timestamps are read: per-plane checksums would cost more than the RGB conversion.
  filters.push('showinfo=checksum=0');
  return filters.join(',');
}

const SHOWINFO = /Parsed_showinfo.*?\bn:\s*(\d+)\s+pts:\s*(-?\d+)\s+pts_time:\s*(-?[\d.e+-]+)/g;

/** Frames decoded ahead of the consumer: decoding overlaps the segmentation of the frame before. */
const PREFETCH_FRAMES = 2;

/**
 * Decodes `file` (its first video stream, autorotated as ffmpeg displays it; audio, subtitles and data dropped)
 * into RGB frames of `info.width` x `info.height`. The decoder is killed when the consumer stops early or
 * `signal` aborts (then VideoStoppedError). Throws VideoError VIDEO_UNPROCESSABLE when ffmpeg fails or yields no
 * frame.
 */
export async function* decodeFrames(
  tools: VideoTools,
  file: string,
  info: Pick<VideoInfo, 'width' | 'height'>,
  sampling: FrameSampling = {},
  signal?: AbortSignal,
  name = file,
): AsyncGenerator<DecodedFrame> {
  const times: number[] = [];
  let wakeTimes: (() => void) | undefined;
  let pending = '';
  const args = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'info', '-i', file, '-map', '0:v:0', '-an', '-sn', '-dn', '-vf', filterChain(sampling), '-fps_mode', 'passthrough'];
  if (sampling.maxFrames !== undefined) args.push('-frames:v', String(sampling.maxFrames));
  args.push('-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');
  const tool = startTool(tools.ffmpeg, args, {
    signal,
    onStderr(text) {
      pending += text;
      const lastNewline = pending.lastIndexOf('\n');
      if (lastNewline < 0) return;
      for (const match of pending.slice(0, lastNewline).matchAll(SHOWINFO)) times[Number(match[1])] = Number(match[3]);
      pending = pending.slice(lastNewline + 1);
      wakeTimes?.();
    },
  });
  let closed = false;
  void tool.exited.then(() => {
    closed = true;
    wakeTimes?.();
  });
  const timeOf = async (index: number): Promise<number> => {
    while (times[index] === undefined && !closed) await new Promise<void>((resolve) => (wakeTimes = resolve));
    return times[index] ?? Number.NaN;
  };

  const frameBytes = info.width * info.height * 3;
  const ready: Uint8Array[] = [];
  let wakeReader: (() => void) | undefined;
  let ended = false;
  let current = new Uint8Array(frameBytes);
  let filled = 0;
  const stdout = tool.child.stdout;
  stdout.on('data', (chunk: Buffer) => {
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(frameBytes - filled, chunk.length - offset);
      current.set(chunk.subarray(offset, offset + n), filled);
      filled += n;
      offset += n;
      if (filled === frameBytes) {
        ready.push(current);
        current = new Uint8Array(frameBytes);
        filled = 0;
      }
    }
    if (ready.length >= PREFETCH_FRAMES) stdout.pause();
    wakeReader?.();
  });
  stdout.on('end', () => {
    ended = true;
    wakeReader?.();
  });
  stdout.on('error', () => undefined);

  let index = 0;
  try {
    for (;;) {
      if (signal?.aborted) throw new VideoStoppedError('stopped');
      if (ready.length === 0) {
        if (ended) break;
        await new Promise<void>((resolve) => (wakeReader = resolve));
        continue;
      }
      const data = ready.shift() as Uint8Array;
      if (ready.length < PREFETCH_FRAMES) stdout.resume();
      yield { index, time: await timeOf(index), image: { data, width: info.width, height: info.height } };
      index++;
    }
    const code = await tool.exited;
    if (signal?.aborted) throw new VideoStoppedError('stopped');
    if (code !== 0) throw new VideoError('VIDEO_UNPROCESSABLE', `${name}: ffmpeg could not decode it (${errorLines(tool.stderrTail()).replaceAll(file, name) || `exit ${code}`})`);
    if (index === 0) throw new VideoError('VIDEO_UNPROCESSABLE', `${name}: no frame could be decoded`);
  } finally {
    tool.kill();
    // A paused pipe holding unread frames would keep the process from closing.
    stdout.destroy();
    await tool.exited;
  }
}
