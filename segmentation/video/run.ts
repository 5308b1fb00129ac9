/**
 * A whole video through segmentation: ffmpeg decodes frames ahead, each frame is segmented by the caller's
 * function (the CLI's frame worker and engine, cli/video-frames.ts, or the server's inference queue one frame at a
 * time), and each video
 * format goes to its own ffmpeg encoder while the next frame runs. The JSONL lines stream to a file.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { decodeFrames, sampledFrameCount, sampledRate, type DecodedFrame, type FrameSampling } from './decode.js';
import { VideoEncoder } from './encode.js';
import { VideoStoppedError } from './errors.js';
import type { FrameLine, VideoFormat } from './frame.js';
import type { VideoInfo } from './probe.js';
import type { VideoTools } from './tools.js';

/** What the caller's segmentation gives back for one frame. */
export interface SegmentedFrame {
  /** One RGB picture per video output, in the order of `videos`. */
  pictures: Uint8Array[];
  line: FrameLine;
}

export interface VideoProgress {
  done: number;
  total: number;
  /** Frames per second since the first frame was asked for. */
  fps: number;
  /** Seconds left at that rate. */
  etaSeconds: number;
}

export interface VideoRunOptions {
  tools: VideoTools;
  /** The input file and its probe. */
  file: string;
  info: VideoInfo;
  /** The name used in messages (the upload's name, not the temporary file's). */
  name?: string;
  sampling?: FrameSampling;
  /** One MP4 per format, written to these paths. */
  videos: Array<{ format: VideoFormat; file: string }>;
  /** Where the JSONL lines go; none when absent. */
  jsonl?: string;
  segment(frame: DecodedFrame): Promise<SegmentedFrame>;
  /** After each frame is segmented (e.g. the CLI's per-frame mask files). */
  onFrame?(frame: DecodedFrame, result: SegmentedFrame, progress: VideoProgress): Promise<void> | void;
  /** Aborting stops at the next frame boundary with VideoStoppedError; the outputs are then incomplete. */
  signal?: AbortSignal;
  /**
   * Frames being segmented at once (default 1): more let the caller's stages of different frames overlap (the CLI
   * keeps three, cli/video-frames.ts); results are still written in order.
   */
  depth?: number;
}

export interface VideoRunResult {
  frames: number;
  seconds: number;
  /** Milliseconds this loop waited for the decoder's next frame and for the encoders to take frames. */
  waits: { decodeMs: number; encodeMs: number };
}

/**
 * Runs the video; resolves once every output file is complete. On any error (or abort) the decoder and encoders
 * are killed before it rejects; the partly written files are the caller's to remove.
 */
export async function segmentVideo(opts: VideoRunOptions): Promise<VideoRunResult> {
  const sampling = opts.sampling ?? {};
  const total = sampledFrameCount(opts.info, sampling);
  const rate = sampledRate(opts.info, sampling);
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) stop.abort();
  const encoders = opts.videos.map((video) => new VideoEncoder(opts.tools, video.file, { width: opts.info.width, height: opts.info.height, rate, signal: stop.signal }));
  const jsonl = opts.jsonl === undefined ? undefined : createWriteStream(opts.jsonl);
  const started = performance.now();
  let done = 0;
  const waits = { decodeMs: 0, encodeMs: 0 };
  const frames = decodeFrames(opts.tools, opts.file, opts.info, sampling, stop.signal, opts.name);
  const depth = Math.max(1, opts.depth ?? 1);
  const inflight: Array<{ frame: DecodedFrame; result: Promise<SegmentedFrame> }> = [];
  try {
    let decoded = false;
    for (;;) {
      while (!decoded && inflight.length < depth && !stop.signal.aborted) {
        const asked = performance.now();
        const next = await frames.next();
        waits.decodeMs += performance.now() - asked;
        if (next.done) decoded = true;
        else {
          const result = opts.segment(next.value);
          // Awaited in order below; a later frame's failure must not go unhandled meanwhile.
          result.catch(() => undefined);
          inflight.push({ frame: next.value, result });
        }
      }
      const oldest = inflight.shift();
      if (!oldest) break;
      const { frame } = oldest;
      const result = await oldest.result;
      if (stop.signal.aborted) throw new VideoStoppedError('stopped');
      const writing = performance.now();
      await Promise.all(encoders.map((encoder, i) => encoder.write(result.pictures[i])));
      waits.encodeMs += performance.now() - writing;
      if (jsonl && !jsonl.write(`${JSON.stringify(result.line)}\n`)) await once(jsonl, 'drain');
      done++;
      const seconds = (performance.now() - started) / 1000;
      const fps = seconds > 0 ? done / seconds : 0;
      const left = Math.max(0, total - done);
      await opts.onFrame?.(frame, result, { done, total: Math.max(total, done), fps, etaSeconds: fps > 0 ? left / fps : 0 });
    }
    const finishing = performance.now();
    await Promise.all(encoders.map((encoder) => encoder.finish()));
    waits.encodeMs += performance.now() - finishing;
    if (jsonl) {
      jsonl.end();
      await once(jsonl, 'close');
    }
    return { frames: done, seconds: (performance.now() - started) / 1000, waits };
  } catch (err) {
    stop.abort();
    await Promise.allSettled(inflight.map((entry) => entry.result));
    // Closes the decoder (kills ffmpeg) when the error came from this side.
    await frames.return(undefined).catch(() => undefined);
    await Promise.all(encoders.map((encoder) => encoder.abort()));
    if (jsonl) {
      jsonl.destroy();
      if (!jsonl.closed) await once(jsonl, 'close').catch(() => undefined);
    }
    throw err;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}
