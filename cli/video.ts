/**
 * `cityseg segment` for a video file: the chosen video formats as MP4s (`<stem>_overlay.mp4`, `<stem>_color.mp4`),
 * `<stem>.jsonl` with one line per frame, and with --frames each frame's masks in the image formats under
 * `<stem>_frames/`. Everything is written under temporary names and renamed at the end: an interrupted or failed
 * video leaves nothing (Ctrl-C stops at a frame boundary, removes the partial files and exits with 130).
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { InferenceEngine } from '../model/engines/engine.js';
import type { InferenceModeOptions } from '../segmentation/inference-modes/index.js';
import { OUTPUT_FORMATS } from '../segmentation/output-formats.js';
import type { InferenceSize } from '../segmentation/preprocess.js';
import { frameTime, isVideoFormat, videoSuffix, type VideoFormat } from '../segmentation/video/frame.js';
import { CLI_VIDEO_LIMITS } from '../segmentation/video/limits.js';
import { probeVideo } from '../segmentation/video/probe.js';
import { segmentVideo, type VideoProgress } from '../segmentation/video/run.js';
import { sampledFrameCount, type FrameSampling } from '../segmentation/video/decode.js';
import { findVideoTools } from '../segmentation/video/tools.js';
import { loadSettings } from '../server/config.js';
import { exists } from './files.js';
import { VIDEO_FILE_EXTENSIONS } from './inputs.js';
import { CLI_MAX_PIXELS } from './options.js';
import { startProgress } from './progress.js';
import { FRAME_PIPELINE_DEPTH, frameSegmenter } from './video-frames.js';
import type { ItemOutcome } from './batch.js';
import { outputPath, type OutputContext, type SegmentFormat } from './segment-outputs.js';

/** Whether `file` is taken as a video (by extension; GIFs stay images: their first frame). */
export function isVideoFile(file: string): boolean {
  return (VIDEO_FILE_EXTENSIONS as readonly string[]).includes(path.extname(file).slice(1).toLowerCase());
}

/** Exit status after Ctrl-C (128 + SIGINT), as shells report it. */
const INTERRUPTED_EXIT = 130;

export interface VideoJob {
  engine: InferenceEngine;
  size: InferenceSize;
  /** The network's smallest side (model/fastseg.ts minInputSide), as for images. */
  minSide: number;
  mode: InferenceModeOptions;
  formats: SegmentFormat[];
  context: OutputContext;
  out: string;
  sampling: FrameSampling;
  /** Also write each frame's masks in the image formats. */
  frames: boolean;
  overwrite: boolean;
  quiet: boolean;
}

function progressLine(name: string, progress: VideoProgress, seconds: number): string {
  return `${name}: ${progress.done} frames in ${seconds.toFixed(2)} s (${progress.fps.toFixed(2)} frames/s)`;
}

/** Segments one video file into its outputs (see the module comment); `skipped` when they all exist already. */
export async function segmentVideoFile(file: string, stem: string, job: VideoJob): Promise<ItemOutcome> {
  const videoFormats = job.formats.filter(isVideoFormat) as VideoFormat[];
  const imageFormats = job.frames ? job.formats : [];
  const finals = [
    ...videoFormats.map((format) => path.join(job.out, `${stem}${videoSuffix(format)}`)),
    path.join(job.out, `${stem}.jsonl`),
    ...(imageFormats.length > 0 ? [path.join(job.out, `${stem}_frames`)] : []),
  ];
  if (!job.overwrite && (await Promise.all(finals.map(exists))).every(Boolean)) return 'skipped';
  const tools = findVideoTools(loadSettings(process.env, ['ffmpeg', 'ffprobe']));
  const info = await probeVideo(tools, file, {
    maxPixels: CLI_MAX_PIXELS,
    ...CLI_VIDEO_LIMITS,
    sources: { maxPixels: 'the CLI limit', maxFrames: 'the CLI limit', maxSeconds: 'the CLI limit' },
  }, file);
  const partial = (final: string) => `${final}.partial-${process.pid}`;
  const partials = finals.map(partial);
  await mkdir(path.dirname(finals[0]), { recursive: true });
  const framesDir = imageFormats.length > 0 ? partials[partials.length - 1] : undefined;

  const stop = new AbortController();
  const onInterrupt = () => stop.abort();
  process.once('SIGINT', onInterrupt);
  const progress = startProgress({ total: sampledFrameCount(info, job.sampling), label: path.basename(file), quiet: job.quiet, unit: 'frames/s' });
  let last: VideoProgress | undefined;
  const frames = frameSegmenter(job.engine, {
    size: job.size,
    minSide: job.minSide,
    mode: job.mode,
    drawing: { formats: videoFormats, labelSet: job.context.labelSet, alpha: job.context.alpha, rle: job.context.rle },
  });
  try {
    const run = await segmentVideo({
      tools,
      file,
      info,
      name: file,
      sampling: job.sampling,
      videos: videoFormats.map((format, i) => ({ format, file: partials[i] })),
      jsonl: partials[videoFormats.length],
      signal: stop.signal,
      depth: FRAME_PIPELINE_DEPTH,
      async segment(frame) {
        const { result, pictures, classes } = await frames.segment(frame);
        if (framesDir) {
          for (const format of imageFormats) {
            // `<stem>_frames/000042` + the image format's suffix.
            const target = outputPath(framesDir, String(frame.index).padStart(6, '0'), format, job.context);
            await mkdir(framesDir, { recursive: true });
            await writeFile(target, await OUTPUT_FORMATS[format].encode(result, job.context));
          }
        }
        return { pictures, line: { frame: frame.index, time: frameTime(frame.time), classes } };
      },
      onFrame(_frame, _result, now) {
        last = now;
        progress.tick();
      },
    });
    for (let i = 0; i < finals.length; i++) {
      await rm(finals[i], { recursive: true, force: true });
      await rename(partials[i], finals[i]);
    }
    progress.stop();
    if (!job.quiet && last) process.stderr.write(`${progressLine(file, last, run.seconds)}\n`);
    return 'processed';
  } catch (err) {
    progress.stop();
    await Promise.all(partials.map((p) => rm(p, { recursive: true, force: true })));
    // After Ctrl-C any failure is the stop's doing: a terminal's SIGINT also ends ffmpeg, whose pipes then break.
    if (stop.signal.aborted) {
      process.stderr.write(`cityseg: interrupted: ${file} left no output (its partial files were removed)\n`);
      process.exit(INTERRUPTED_EXIT);
    }
    throw err;
  } finally {
    await frames.close();
    process.removeListener('SIGINT', onInterrupt);
  }
}
