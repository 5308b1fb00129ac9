/**
 * Where ffmpeg and ffprobe are: the settings CITYSEG_FFMPEG (ffprobe beside it) and CITYSEG_FFPROBE
 * (server/config.ts), else the PATH.
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { VideoToolMissingError } from './errors.js';

export interface VideoTools {
  ffmpeg: string;
  ffprobe: string;
}

/** The settings that name the tools (server/config.ts SETTINGS.ffmpeg and .ffprobe), for messages. */
const FFMPEG_ENV = 'CITYSEG_FFMPEG';
const FFPROBE_ENV = 'CITYSEG_FFPROBE';

const EXE = process.platform === 'win32' ? '.exe' : '';

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const file = path.join(dir, name + EXE);
    if (isExecutable(file)) return file;
  }
  return undefined;
}

const INSTALL_HINT = 'install ffmpeg (Debian/Ubuntu: apt-get install ffmpeg)';

/**
 * The ffmpeg and ffprobe executables: the configured paths, else found on `env.PATH`. Throws
 * VideoToolMissingError naming CITYSEG_FFMPEG (or CITYSEG_FFPROBE) when a configured path is not executable or
 * a tool is not on the PATH.
 */
export function findVideoTools(settings: { ffmpeg?: string; ffprobe?: string }, env: NodeJS.ProcessEnv = process.env): VideoTools {
  const configured = settings.ffmpeg?.trim();
  let ffmpeg: string | undefined;
  if (configured) {
    if (!isExecutable(configured)) throw new VideoToolMissingError(`${FFMPEG_ENV}=${configured} is not an executable file; ${INSTALL_HINT} or fix ${FFMPEG_ENV}`);
    ffmpeg = configured;
  } else {
    ffmpeg = onPath('ffmpeg', env);
    if (!ffmpeg) throw new VideoToolMissingError(`video needs ffmpeg, which is not on the PATH: ${INSTALL_HINT} or set ${FFMPEG_ENV} to its path`);
  }
  const probeConfigured = settings.ffprobe?.trim();
  const ffprobe = probeConfigured || path.join(path.dirname(ffmpeg), `ffprobe${EXE}`);
  if (!isExecutable(ffprobe)) {
    const fallback = probeConfigured ? undefined : onPath('ffprobe', env);
    if (fallback) return { ffmpeg, ffprobe: fallback };
    throw new VideoToolMissingError(`video needs ffprobe, not found at ${ffprobe}: ${INSTALL_HINT} or set ${FFPROBE_ENV} to its path`);
  }
  return { ffmpeg, ffprobe };
}
