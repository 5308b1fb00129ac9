/**
 * Why a video cannot be segmented, with a stable `code` the HTTP layer maps to a status and the CLI reports on the
 * file's line: not a video (415), a limit passed (413, naming the limit and its setting), a video ffmpeg cannot
 * read through (422).
 */
export type VideoErrorCode = 'VIDEO_NOT_RECOGNISED' | 'VIDEO_TOO_LARGE' | 'VIDEO_UNPROCESSABLE';

export class VideoError extends Error {
  override readonly name = 'VideoError';
  readonly code: VideoErrorCode;
  constructor(code: VideoErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** ffmpeg or ffprobe cannot be found or run: the message names the setting that points at them. */
export class VideoToolMissingError extends Error {
  override readonly name = 'VideoToolMissingError';
  readonly code = 'VIDEO_TOOL_MISSING';
}

/** The run was stopped from outside (Ctrl-C, DELETE, shutdown) at a frame boundary. */
export class VideoStoppedError extends Error {
  override readonly name = 'VideoStoppedError';
  readonly code = 'VIDEO_STOPPED';
}
