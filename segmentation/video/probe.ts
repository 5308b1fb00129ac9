/** What a video file is, read by ffprobe before any frame is decoded, and the limits it must fit. */
import path from 'node:path';
import { runTool, errorLines } from './process.js';
import { VideoError } from './errors.js';
import { PROBE_LIMITS, type VideoLimits } from './limits.js';
import type { VideoTools } from './tools.js';

export interface VideoInfo {
  /** Frame size as displayed (ffmpeg autorotates: a 90° phone video's width and height are swapped). */
  width: number;
  height: number;
  /** Degrees of the display matrix (0, 90, 180, 270; 0 when none). */
  rotation: number;
  codec: string;
  /** Frames in the stream (packets demuxed: a truncated file holds fewer than it declares and is refused). */
  frames: number;
  /** Average frame rate as ffmpeg's rational `num/den`, e.g. `30000/1001`, and as a number. */
  rate: string;
  fps: number;
  /** Seconds. */
  durationSeconds: number;
  /** The stream's timestamps are not evenly spaced (r_frame_rate differs from avg_frame_rate). */
  variableFrameRate: boolean;
}

interface ProbeStream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  nb_frames?: string;
  nb_read_packets?: string;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  duration?: string;
  disposition?: { attached_pic?: number };
  tags?: { rotate?: string };
  side_data_list?: Array<{ rotation?: number }>;
}

interface ProbeOutput {
  streams?: ProbeStream[];
  format?: { duration?: string; format_name?: string };
}

function rational(text: string | undefined): number {
  const [num, den] = (text ?? '').split('/').map(Number);
  return den > 0 && Number.isFinite(num) ? num / den : Number.NaN;
}

function rotationOf(stream: ProbeStream): number {
  const fromMatrix = stream.side_data_list?.find((side) => typeof side.rotation === 'number')?.rotation;
  const degrees = fromMatrix ?? Number(stream.tags?.rotate ?? 0);
  return Number.isFinite(degrees) ? (((Math.round(degrees) % 360) + 360) % 360) : 0;
}

/** A line from a demuxer (`[mov,mp4,… @ 0x…] moov atom not found`): ffmpeg knew the format. */
const DEMUXER_SPOKE = /^\[[\w,]+ @ /m;

const unprocessable = (message: string) => new VideoError('VIDEO_UNPROCESSABLE', message);

/** The checks on ffprobe's answer; exported for the tests of each refusal. */
export function videoInfoOf(output: ProbeOutput, name: string, limits: VideoLimits): VideoInfo {
  const stream = output.streams?.find((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
  if (!stream) throw new VideoError('VIDEO_NOT_RECOGNISED', `${name} has no video stream (${output.format?.format_name ?? 'unknown'} container)`);
  const codec = stream.codec_name ?? 'unknown';
  const coded = { width: stream.width ?? 0, height: stream.height ?? 0 };
  if (!(coded.width > 0 && coded.height > 0)) throw unprocessable(`${name}: its ${codec} video stream has no frame size`);
  const rotation = rotationOf(stream);
  const [width, height] = rotation % 180 === 90 ? [coded.height, coded.width] : [coded.width, coded.height];
  if (width * height > limits.maxPixels) {
    throw new VideoError('VIDEO_TOO_LARGE', `${name}: frames are ${width}x${height} = ${width * height} pixels, over the limit of ${limits.maxPixels} (${limits.sources.maxPixels})`);
  }
  const declared = Number(stream.nb_frames ?? Number.NaN);
  if (declared > limits.maxFrames) {
    throw new VideoError('VIDEO_TOO_LARGE', `${name} declares ${declared} frames, over the limit of ${limits.maxFrames} (${limits.sources.maxFrames})`);
  }
  const frames = Number(stream.nb_read_packets ?? Number.NaN);
  if (!(frames > 0)) throw unprocessable(`${name} holds no video frames (empty, or truncated before its first frame)`);
  if (declared > frames) throw unprocessable(`${name} declares ${declared} frames but holds ${frames}: truncated or corrupt`);
  if (frames > limits.maxFrames) {
    throw new VideoError('VIDEO_TOO_LARGE', `${name} holds ${frames} frames, over the limit of ${limits.maxFrames} (${limits.sources.maxFrames})`);
  }
  const durationSeconds = [stream.duration, output.format?.duration].map(Number).find((d) => Number.isFinite(d) && d > 0) ?? Number.NaN;
  if (durationSeconds > limits.maxSeconds) {
    throw new VideoError('VIDEO_TOO_LARGE', `${name} lasts ${durationSeconds.toFixed(1)} s, over the limit of ${limits.maxSeconds} s (${limits.sources.maxSeconds})`);
  }
  let fps = rational(stream.avg_frame_rate);
  let rate = stream.avg_frame_rate ?? '';
  if (!(fps > 0 && fps <= 1000)) {
    // No average over the file (some raw streams): the frames over the duration, else the nominal rate.
    fps = durationSeconds > 0 ? frames / durationSeconds : rational(stream.r_frame_rate);
    rate = String(fps);
  }
  if (!(fps > 0 && fps <= 1000)) throw unprocessable(`${name}: cannot tell its frame rate (${stream.avg_frame_rate ?? 'none'})`);
  const nominal = rational(stream.r_frame_rate);
  return {
    width,
    height,
    rotation,
    codec,
    frames,
    rate,
    fps,
    durationSeconds: Number.isFinite(durationSeconds) ? durationSeconds : frames / fps,
    variableFrameRate: Number.isFinite(nominal) && Math.abs(nominal - fps) > 1e-3 * fps,
  };
}

/**
 * ffprobe's reading of `file` (first video stream; every packet demuxed, nothing decoded), checked against
 * `limits`. Throws VideoError: VIDEO_NOT_RECOGNISED when ffmpeg does not know the format or there is no video
 * stream, VIDEO_TOO_LARGE naming the limit, VIDEO_UNPROCESSABLE for broken or empty files.
 */
export async function probeVideo(tools: VideoTools, file: string, limits: VideoLimits, name = file): Promise<VideoInfo> {
  const args = ['-v', 'error', '-count_packets', '-print_format', 'json', '-show_streams', '-show_format', '-select_streams', 'v', file];
  const run = await runTool(tools.ffprobe, args, PROBE_LIMITS);
  if (run.timedOut) throw unprocessable(`${name}: ffprobe took over ${PROBE_LIMITS.timeoutMs / 1000} s to read it`);
  if (run.code !== 0) {
    const why = errorLines(run.stderr).replaceAll(file, name) || `ffprobe exited with ${run.code}`;
    // A demuxer that speaks up (`[mov,mp4,… @ 0x…] moov atom not found`) knew the format: the file is broken, not foreign.
    let recognised = DEMUXER_SPOKE.test(run.stderr);
    if (recognised && path.extname(file) !== '') {
      // The extension alone may have chosen that demuxer (a text file named .mp4): ask again by content only.
      const byContent = await runTool(tools.ffprobe, ['-v', 'error', '-i', 'pipe:0'], PROBE_LIMITS, file);
      recognised = byContent.code === 0 || DEMUXER_SPOKE.test(byContent.stderr);
    }
    if (!recognised && /Invalid data found|no such demuxer|Unknown input format/i.test(run.stderr)) throw new VideoError('VIDEO_NOT_RECOGNISED', `${name} is not a video ffmpeg can read (${why})`);
    throw unprocessable(`${name} cannot be read as a video (${why})`);
  }
  let output: ProbeOutput;
  try {
    output = JSON.parse(run.stdout) as ProbeOutput;
  } catch {
    throw unprocessable(`${name}: ffprobe's description of it is not JSON`);
  }
  return videoInfoOf(output, name, limits);
}
