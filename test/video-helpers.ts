/** Test helpers for video: small videos made with ffmpeg, hostile files, and checks that nothing is left behind. */
import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { realFrame, SHARED_REAL_SKIP } from './shared-real.js';

const run = promisify(execFile);

/** A real street frame (../shared/real, through the one helper); tests that need it skip with REAL_SKIP without it. */
export const REAL_FRAME = realFrame('frankfurt_000000_000294_leftImg8bit.png');
export const REAL_SKIP = SHARED_REAL_SKIP;

export async function ffmpeg(...args: string[]): Promise<void> {
  await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', ...args]);
}

/** ffprobe's facts about the first video stream of `file`: size, rate, frames demuxed, codec, pixel format. */
export async function probeFacts(file: string): Promise<{ width: number; height: number; rate: string; frames: number; codec: string; pixFmt: string; audio: boolean }> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-count_packets', '-print_format', 'json', '-show_streams', file]);
  const streams = (JSON.parse(stdout) as { streams: Array<Record<string, string | number>> }).streams;
  const video = streams.find((s) => s.codec_type === 'video');
  if (!video) throw new Error(`${file} has no video stream`);
  return {
    width: Number(video.width),
    height: Number(video.height),
    rate: String(video.avg_frame_rate),
    frames: Number(video.nb_read_packets),
    codec: String(video.codec_name),
    pixFmt: String(video.pix_fmt),
    audio: streams.some((s) => s.codec_type === 'audio'),
  };
}

/** An H.264 MP4 of ffmpeg's test pattern (with a sine audio track, which the outputs must drop). */
export async function testVideo(file: string, opts: { width: number; height: number; rate: number; frames: number }): Promise<void> {
  await ffmpeg(
    '-f', 'lavfi', '-i', `testsrc=size=${opts.width}x${opts.height}:rate=${opts.rate}`,
    '-f', 'lavfi', '-i', 'sine=frequency=440',
    '-frames:v', String(opts.frames), '-shortest', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', file,
  );
}

/** `file` copied with a 90° display matrix, as phones write portrait video. */
export async function rotatedCopy(source: string, file: string): Promise<void> {
  await ffmpeg('-i', source, '-c', 'copy', '-metadata:s:v:0', 'rotate=90', file);
}

/** Frames of `file` as PNGs in `dir` (000001.png, ...), decoded and autorotated as ffmpeg does by default. */
export async function extractFrames(file: string, dir: string): Promise<string[]> {
  await ffmpeg('-i', file, '-fps_mode', 'passthrough', `${dir}/%06d.png`);
  return (await readdir(dir)).filter((name) => name.endsWith('.png')).sort().map((name) => `${dir}/${name}`);
}

/** The hostile files of the specification, written into `dir`; each maps a name to its path. */
export async function hostileVideos(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  const base = `${dir}/base.mp4`;
  await testVideo(base, { width: 64, height: 48, rate: 10, frames: 10 });
  const whole = await readFile(base);
  files.truncated = `${dir}/truncated.mp4`;
  await writeFile(files.truncated, whole.subarray(0, Math.floor(whole.length / 2)));
  files.text = `${dir}/text.mp4`;
  await writeFile(files.text, 'this is not a video, just text\n'.repeat(20));
  files.audioOnly = `${dir}/audio-only.mp4`;
  await ffmpeg('-f', 'lavfi', '-i', 'sine=d=1', '-c:a', 'aac', files.audioOnly);
  files.zeroFrames = `${dir}/zero-frames.mp4`;
  await ffmpeg('-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10', '-frames:v', '0', '-c:v', 'libx264', files.zeroFrames);
  // AVI headers state the frame count (strh dwLength, avih dwTotalFrames): a few real frames declaring a billion.
  const avi = `${dir}/base.avi`;
  await ffmpeg('-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10', '-frames:v', '5', '-c:v', 'mjpeg', avi);
  const billion = await readFile(avi);
  billion.writeUInt32LE(1e9, billion.indexOf('strh') + 8 + 32);
  billion.writeUInt32LE(1e9, billion.indexOf('avih') + 8 + 16);
  files.billionFrames = `${dir}/billion-frames.avi`;
  await writeFile(files.billionFrames, billion);
  // A YUV4MPEG header is a text line: frame sizes past ffmpeg's own limit, and past ours.
  files.hugeFrames = `${dir}/huge-frames.y4m`;
  await writeFile(files.hugeFrames, 'YUV4MPEG2 W100000 H100000 F30:1 Ip A1:1 C420jpeg\nFRAME\nabc');
  files.largeFrames = `${dir}/large-frames.y4m`;
  await writeFile(files.largeFrames, 'YUV4MPEG2 W10000 H10000 F30:1 Ip A1:1 C420jpeg\nFRAME\nabc');
  return files;
}

/** A 10-frame variable-frame-rate MP4 (five frames 0.1 s apart, then five about 0.3 s apart); returns their times. */
export async function vfrVideo(file: string): Promise<number[]> {
  await ffmpeg(
    '-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10', '-frames:v', '10',
    '-vf', "setpts='if(lt(N,5),N*0.1,0.5+(N-5)*0.3)/TB'", '-fps_mode', 'vfr', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', file,
  );
  return frameTimes(file);
}

/** Each frame's presentation time in seconds, as ffprobe decodes them. */
export async function frameTimes(file: string): Promise<number[]> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'frame=pts_time', '-of', 'csv=p=0', file]);
  return stdout.split('\n').map((line) => line.replaceAll(',', '').trim()).filter((line) => line !== '').map(Number);
}

/** ffmpeg/ffprobe processes whose command line mentions `needle` (a test's temporary folder): must be none after each test. */
export async function toolProcessesMentioning(needle: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let cmdline: string;
    try {
      cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replaceAll('\0', ' ');
    } catch {
      continue;
    }
    if (/ff(mpeg|probe)/.test(cmdline.split(' ')[0]) && cmdline.includes(needle)) found.push(`${pid}: ${cmdline}`);
  }
  return found;
}
