/**
 * The video row of `cityseg bench --video FILE`: the file through the CLI's whole video path (ffmpeg decode →
 * segmentation → overlay → ffmpeg H.264 encode, JSONL), its frames/s beside model-only throughput at the same
 * inference size, each stage's cost per frame, the CPU per frame of the process and of its ffmpeg processes, and the
 * process's peak RSS (ffmpeg's own processes not included).
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { EngineName } from '../../model/engines/engine.js';
import { minInputSide } from '../../model/fastseg.js';
import { loadModel } from '../../model/load-model.js';
import type { ArchName } from '../../model/loaded-model.js';
import { cityscapes } from '../../segmentation/labels/index.js';
import { inferenceDims } from '../../segmentation/preprocess.js';
import { frameTime } from '../../segmentation/video/frame.js';
import { CLI_VIDEO_LIMITS } from '../../segmentation/video/limits.js';
import { probeVideo } from '../../segmentation/video/probe.js';
import { segmentVideo } from '../../segmentation/video/run.js';
import { findVideoTools } from '../../segmentation/video/tools.js';
import { loadSettings } from '../../server/config.js';
import { FRAME_PIPELINE_DEPTH, frameSegmenter } from '../video-frames.js';
import { benchModelOnly } from './model-only.js';

export interface VideoBenchCase {
  file: string;
  engine: EngineName | 'auto';
  arch: ArchName;
  numClasses: number;
  /** Inference long side. */
  size: number;
  /** Segment every N-th frame (all are still decoded). */
  every?: number;
}

export interface VideoRow {
  kind: 'video';
  engine: EngineName;
  arch: ArchName;
  video: string;
  frames: number;
  inference_size: string;
  /** Frames segmented per second over the whole run, first frame to the finished MP4. */
  frames_per_s: number;
  /** Model-only throughput (forward + upsample/argmax at the inference size) of the same network and size. */
  model_only_per_s: number;
  /** frames_per_s / model_only_per_s. */
  share_of_model_only: number;
  /** Milliseconds per frame: decoder wait, resize+normalise, forward, upsample+argmax, overlay+stats, encoder wait. */
  per_frame_ms: { decode_wait: number; preprocess: number; forward: number; postprocess: number; render: number; encode_wait: number };
  /**
   * CPU time per frame segmented (all threads, ms): this process (engine, frame worker, pipes) and its ffmpeg
   * decoder and encoder. On a shared machine it says more than wall time: frames/s is bounded by cores / their sum.
   */
  cpu_ms_per_frame: { node: number; ffmpeg?: number };
  peak_rss_mb: number;
}

/** CPU milliseconds of this process's exited and reaped children (Linux: /proc/self/stat cutime + cstime); undefined elsewhere. */
function childrenCpuMs(): number | undefined {
  try {
    // Fields after the command's closing parenthesis; cutime and cstime are the 16th and 17th of the line.
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
    // USER_HZ, which /proc reports in: 100 on every Linux architecture node runs on.
    const ticksPerSecond = 100;
    return ((Number(fields[13]) + Number(fields[14])) * 1000) / ticksPerSecond;
  } catch {
    return undefined;
  }
}

const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;

export async function benchVideo(c: VideoBenchCase): Promise<VideoRow> {
  const tools = findVideoTools(loadSettings(process.env, ['ffmpeg', 'ffprobe']));
  const info = await probeVideo(tools, c.file, { maxPixels: 2 ** 31, ...CLI_VIDEO_LIMITS, sources: { maxPixels: '-', maxFrames: '-', maxSeconds: '-' } });
  const dims = inferenceDims(info.width, info.height, c.size);
  const modelOnly = await benchModelOnly({ engine: c.engine, arch: c.arch, numClasses: c.numClasses, height: dims.height, width: dims.width, runs: 20, warmup: 3 });
  const model = await loadModel({ arch: c.arch, numClasses: c.numClasses, engine: c.engine });
  const out = await mkdtemp(path.join(os.tmpdir(), 'cityseg-bench-video-'));
  let peak = process.memoryUsage.rss();
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 100);
  const frames = frameSegmenter(model.engine, {
    size: c.size,
    minSide: minInputSide(c.arch),
    drawing: { formats: ['overlay'], labelSet: cityscapes, alpha: 0.5, rle: false },
  });
  const cpuBefore = process.cpuUsage();
  const childrenBefore = childrenCpuMs();
  try {
    const run = await segmentVideo({
      tools,
      file: c.file,
      info,
      sampling: c.every ? { every: c.every } : {},
      videos: [{ format: 'overlay', file: path.join(out, 'overlay.mp4') }],
      jsonl: path.join(out, 'frames.jsonl'),
      depth: FRAME_PIPELINE_DEPTH,
      async segment(frame) {
        const { pictures, classes } = await frames.segment(frame);
        return { pictures, line: { frame: frame.index, time: frameTime(frame.time), classes } };
      },
    });
    const cpu = process.cpuUsage(cpuBefore);
    const childrenAfter = childrenCpuMs();
    const cost = frames.totals;
    const perFrame = (ms: number) => round(ms / Math.max(1, run.frames));
    const fps = run.frames / run.seconds;
    return {
      kind: 'video',
      engine: model.engineName,
      arch: c.arch,
      video: `${info.width}x${info.height} ${info.codec} ${info.rate} fps, ${info.frames} frames${c.every ? `, 1 frame in ${c.every} segmented` : ''}`,
      frames: run.frames,
      inference_size: `${dims.width}x${dims.height}`,
      frames_per_s: round(fps),
      model_only_per_s: round(modelOnly.throughput_per_s),
      share_of_model_only: round(fps / modelOnly.throughput_per_s, 3),
      per_frame_ms: {
        decode_wait: perFrame(run.waits.decodeMs),
        preprocess: perFrame(cost.preprocessMs),
        forward: perFrame(cost.forwardMs),
        postprocess: perFrame(cost.postprocessMs),
        render: perFrame(cost.renderMs),
        encode_wait: perFrame(run.waits.encodeMs),
      },
      cpu_ms_per_frame: {
        node: perFrame((cpu.user + cpu.system) / 1000),
        ...(childrenBefore === undefined || childrenAfter === undefined ? {} : { ffmpeg: perFrame(childrenAfter - childrenBefore) }),
      },
      peak_rss_mb: Math.round(Math.max(peak, process.resourceUsage().maxRSS * 1024) / 2 ** 20),
    };
  } finally {
    clearInterval(sampler);
    await frames.close();
    model.engine.dispose();
    await rm(out, { recursive: true, force: true });
  }
}
