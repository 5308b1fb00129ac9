/**
 * From command-line INPUTs (files, directories searched recursively, globs) to the list of images to
 * process, each with the output stem its results are named after.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { glob, isDynamicPattern } from 'tinyglobby';

/** Extensions picked up inside directories (globs and named files are taken as given). */
export const IMAGE_EXTENSIONS = ['png', 'jpg', 'jpeg', 'webp', 'tif', 'tiff', 'gif', 'avif'] as const;

/** Video extensions picked up inside directories too (cli/video.ts segments them frame by frame). */
export const VIDEO_FILE_EXTENSIONS = ['mp4', 'mov', 'm4v', 'mkv', 'webm', 'avi', 'mpg', 'mpeg', 'ts', 'mts', 'm2ts', 'wmv', 'flv', '3gp', 'ogv', 'y4m'] as const;

const IMAGE_PATTERN = `**/*.{${[...IMAGE_EXTENSIONS, ...VIDEO_FILE_EXTENSIONS].join(',')}}`;

export interface ImageInput {
  file: string;
  /**
   * Output name without suffix, relative to the output folder: the base name without extension, with
   * the sub-folders kept for images found inside a directory INPUT (so `city/a.png` and `other/a.png` differ).
   */
  stem: string;
}

/** An INPUT that yields no image, or an image whose output name another image already has. */
export interface InputProblem {
  input: string;
  reason: string;
}

export interface CollectedInputs {
  images: ImageInput[];
  problems: InputProblem[];
}

function stemOf(relativeFile: string): string {
  const { dir, name } = path.parse(relativeFile);
  return path.join(dir, name);
}

async function statOrNull(file: string) {
  try {
    return await stat(file);
  } catch {
    return null;
  }
}

/** The images one INPUT stands for, in sorted order, or the reason it stands for none. */
async function expandInput(input: string): Promise<ImageInput[] | string> {
  const stats = await statOrNull(input);
  if (stats?.isFile()) return [{ file: input, stem: stemOf(path.basename(input)) }];
  if (stats?.isDirectory()) {
    const found = (await glob(IMAGE_PATTERN, { cwd: input, caseSensitiveMatch: false })).sort();
    if (found.length === 0) return `directory holds no image (${IMAGE_EXTENSIONS.join(', ')}) or video (${VIDEO_FILE_EXTENSIONS.join(', ')})`;
    return found.map((relative) => ({ file: path.join(input, relative), stem: stemOf(relative) }));
  }
  if (isDynamicPattern(input)) {
    // Paths come back relative to the working directory unless the pattern itself is absolute.
    const found = (await glob(input, { expandDirectories: false, absolute: path.isAbsolute(input) })).sort();
    if (found.length === 0) return 'pattern matches no file';
    return found.map((file) => ({ file, stem: stemOf(path.basename(file)) }));
  }
  return 'no such file or directory';
}

/** Every image of every INPUT, once (the same file reached twice is kept the first time). */
export async function collectImageInputs(inputs: readonly string[]): Promise<CollectedInputs> {
  const images: ImageInput[] = [];
  const problems: InputProblem[] = [];
  const seen = new Set<string>();
  for (const input of inputs) {
    const expanded = await expandInput(input);
    if (typeof expanded === 'string') {
      problems.push({ input, reason: expanded });
      continue;
    }
    for (const image of expanded) {
      const resolved = path.resolve(image.file);
      if (seen.has(resolved)) continue;
      seen.add(resolved);
      images.push(image);
    }
  }
  return { images, problems };
}

/**
 * For commands that write files named after the stems: two different images that would write the
 * same outputs are a problem for the second, never a silent overwrite.
 */
export function withUniqueStems({ images, problems }: CollectedInputs): CollectedInputs {
  const fileByStem = new Map<string, string>();
  const unique: ImageInput[] = [];
  const clashes: InputProblem[] = [];
  for (const image of images) {
    const owner = fileByStem.get(image.stem);
    if (owner === undefined) {
      fileByStem.set(image.stem, image.file);
      unique.push(image);
    } else {
      clashes.push({ input: image.file, reason: `its outputs would be named ${image.stem}, like those of ${owner}` });
    }
  }
  return { images: unique, problems: [...problems, ...clashes] };
}
