/**
 * RGB frames → an H.264 (yuv420p) MP4 with +faststart, playable in browsers, written by ffmpeg from its stdin:
 * at most a couple of frames wait in the pipe, so memory does not grow with the video.
 */
import { once } from 'node:events';
import { VideoError } from './errors.js';
import { errorLines, startTool, type ToolProcess } from './process.js';
import type { VideoTools } from './tools.js';

export interface EncoderOptions {
  width: number;
  height: number;
  /** Frame rate as ffmpeg reads it: `30`, `30000/1001`. */
  rate: string;
  signal?: AbortSignal;
}

/** Frames written but not yet taken by the encoder before write() waits: encoding overlaps segmentation. */
const QUEUED_FRAMES = 2;

/** x264's speed/size trade-off: the encoder must keep up with the network, not squeeze the last bytes. */
const X264_PRESET = 'veryfast';

export class VideoEncoder {
  private readonly tool: ToolProcess;
  private readonly frameBytes: number;
  private failed = false;
  readonly file: string;

  /**
   * Starts ffmpeg writing `file`. Odd frame sizes are padded by one pixel (black) on the right or bottom:
   * yuv420p needs even sides.
   */
  constructor(tools: VideoTools, file: string, opts: EncoderOptions) {
    this.file = file;
    this.frameBytes = opts.width * opts.height * 3;
    const pad = opts.width % 2 === 1 || opts.height % 2 === 1 ? ['-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2'] : [];
    const args = [
      '-hide_banner', '-nostdin', '-loglevel', 'error',
      '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${opts.width}x${opts.height}`, '-r', opts.rate, '-i', 'pipe:0',
      ...pad,
      '-c:v', 'libx264', '-preset', X264_PRESET, '-pix_fmt', 'yuv420p', '-movflags', '+faststart', '-an', '-f', 'mp4', '-y', file,
    ];
    this.tool = startTool(tools.ffmpeg, args, { stdin: true, signal: opts.signal });
    const stdin = this.tool.child.stdin as NonNullable<typeof this.tool.child.stdin>;
    stdin.on('error', () => (this.failed = true));
    this.tool.child.stdout.resume();
  }

  /** Queues one frame (`width * height * 3` bytes); waits while QUEUED_FRAMES are already waiting. */
  async write(rgb: Uint8Array): Promise<void> {
    if (rgb.length !== this.frameBytes) throw new RangeError(`encoder frame must be ${this.frameBytes} bytes, got ${rgb.length}`);
    const stdin = this.tool.child.stdin as NonNullable<typeof this.tool.child.stdin>;
    if (this.failed || stdin.destroyed) throw this.error('stopped taking frames');
    stdin.write(rgb);
    if (stdin.writableLength > QUEUED_FRAMES * this.frameBytes) {
      await Promise.race([once(stdin, 'drain'), this.tool.exited]);
    }
  }

  /** Closes the input and waits for the file to be complete; throws VideoError when ffmpeg failed. */
  async finish(): Promise<void> {
    this.tool.child.stdin?.end();
    const code = await this.tool.exited;
    if (code !== 0) throw this.error(`exited with ${code}`);
  }

  /** Kills ffmpeg (the file it was writing is left for the caller to remove). */
  async abort(): Promise<void> {
    this.tool.kill();
    await this.tool.exited;
  }

  private error(what: string): VideoError {
    return new VideoError('VIDEO_UNPROCESSABLE', `the video encoder ${what} (${errorLines(this.tool.stderrTail()) || 'no message'})`);
  }
}
