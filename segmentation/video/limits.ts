/**
 * The limits a video is checked against before any frame is decoded. The server's settings table
 * (server/config.ts: CITYSEG_JOB_MAX_FRAMES, CITYSEG_JOB_MAX_SECONDS) defaults to SERVER_VIDEO_LIMITS; the CLI
 * applies CLI_VIDEO_LIMITS (a local file is the user's own, only nonsense declarations are refused).
 */
export interface VideoLimits {
  /** Most pixels of one (displayed) frame. */
  maxPixels: number;
  /** Most frames the video may hold. */
  maxFrames: number;
  /** Longest duration, seconds. */
  maxSeconds: number;
  /** The settings that set each limit, named in refusals (e.g. `CITYSEG_JOB_MAX_FRAMES`). */
  sources: { maxPixels: string; maxFrames: string; maxSeconds: string };
}

/** Ten minutes at 30 frames/s. */
export const SERVER_VIDEO_LIMITS = { maxFrames: 18_000, maxSeconds: 600 } as const;

/** A day of video, or ten million frames: beyond that a declaration is a lie or a mistake. */
export const CLI_VIDEO_LIMITS = { maxFrames: 10_000_000, maxSeconds: 86_400 } as const;

/** Longest ffprobe may take on one file, and the most JSON it may print. */
export const PROBE_LIMITS = { timeoutMs: 30_000, maxBytes: 1 << 20 } as const;
