/**
 * Every error class the project exports, constructed from the compiled build (dist/), the code users run.
 *
 * tsc and tsx compile class fields differently: a constructor that touched `this` before `super()` ran under tsx
 * and threw "Must call super constructor" from dist/. `erasableSyntaxOnly` now refuses the parameter
 * properties that caused it; this test constructs each class from dist/ so any other form of the fault fails here.
 * A new error class without a sample below fails the test until one is added.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const DIST = path.resolve(import.meta.dirname, '..', 'dist');
const SOURCE_DIRS = ['cli', 'model', 'segmentation', 'server', 'routes'];

const dims = { width: 2, height: 3 };
const shapeProblem = { name: 'classifier.low_classifier.weight', expected: [19, 40, 1, 1], actual: [21, 40, 1, 1] };

/** Constructor arguments per class name: realistic values, as the code that throws them passes. */
const SAMPLES: Record<string, unknown[]> = {
  MissingImageError: ['gt.png', 'img.png'],
  InputsFailedError: [1, 2],
  NpyError: ['bad npy'],
  BmpRleError: ['RLE data leaves the image at byte 400'],
  HttpGetError: ['ECONNRESET', 'the connection closed before the body ended'],
  OnnxGraphError: ['bad graph'],
  OnnxEngineError: ['bad engine'],
  QuantizationError: ['q.json was calibrated on other weights'],
  WeightsError: ['w.pth', 'truncated'],
  StateDictMismatchError: [[], [], [shapeProblem], [], [], 'w.pth'],
  EvalError: ['eval failed'],
  InvalidLabelIdError: ['p.png', 99, 'prediction'],
  InvalidTrainIdError: ['p.png', 42],
  InvalidInstanceIdError: ['i.png', 26001, 'unknown label'],
  SizeMismatchError: ['p.png', 'gt.png', dims, { width: 4, height: 5 }],
  MissingPredictionError: ['gt.png', '*_labelIds.png', 'pred'],
  DuplicatePredictionError: ['gt.png', ['a.png', 'b.png']],
  MissingInstanceFileError: ['gt.png', 'inst.png'],
  InconsistentInstancesError: ['gt.png', true],
  UnsupportedPngError: ['p.png', '16-bit colour'],
  CityscapesNameError: ['x.png', 2],
  NoGroundTruthError: ['gt'],
  PixelCountError: ['p.png', 5, 2, 3],
  ImageDecodeError: ['IMAGE_CORRUPT', 'image is truncated or corrupt'],
  ImageTooLargeError: [9000, 9000, 40_000_000],
  LabelSetError: ['labels.json', 'no classes'],
  ClassCountMismatchError: ['voc', 21, 19],
  ShapeError: ['bad shape'],
  InvalidArgumentError: ['bad argument'],
  DuplicateModelError: ['m'],
  MissingLabelSetError: ['m'],
  ConfigError: ['port', 'PORT', 'expected an integer'],
  ApiKeyFileError: ['/etc/cityseg/api-keys', 'line 2: sha256: must be followed by 64 hex digits'],
  QueueRejection: ['full', 3],
  QueueFullError: ['full', 3],
  QueueTimeoutError: ['late', 3],
  QueueClosedError: ['closing', 3],
  JobAbortedError: [],
  JobCancelledError: [],
  MemoryLimitError: [3 * 1024 ** 3, 1024 ** 3],
  HttpProblem: ['bad-parameter', 'querystring/size must be ≥ 32'],
  ModelsFileError: ['/etc/cityseg/models.yaml', 'model "voc": unknown key "wieghts"'],
  NoModelsFileError: [],
  VideoError: ['VIDEO_UNPROCESSABLE', 'drive.mp4 declares 300 frames but holds 120: truncated or corrupt'],
  VideoToolMissingError: ['video needs ffmpeg, which is not on the PATH'],
  VideoStoppedError: ['stopped'],
};

async function compiledModules(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await compiledModules(full)));
    else if (entry.name.endsWith('.js') && !entry.name.includes('worker') && !entry.name.endsWith('main.js')) found.push(full);
  }
  return found;
}

/** Every exported class in dist/ whose instances are Errors, by name. */
async function compiledErrorClasses(): Promise<Map<string, new (...args: unknown[]) => Error>> {
  const classes = new Map<string, new (...args: unknown[]) => Error>();
  for (const dir of SOURCE_DIRS) {
    for (const file of await compiledModules(path.join(DIST, dir))) {
      const exports = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
      for (const [name, value] of Object.entries(exports)) {
        if (typeof value === 'function' && value.prototype instanceof Error) {
          classes.set(name, value as new (...args: unknown[]) => Error);
        }
      }
    }
  }
  return classes;
}

describe('error classes, from the compiled build', () => {
  it('construct, keep their name and message, and have a sample here', async () => {
    const classes = await compiledErrorClasses();
    assert.ok(classes.size >= Object.keys(SAMPLES).length - 2, `found only ${classes.size} error classes in dist/`);
    for (const [name, ErrorClass] of classes) {
      const args = SAMPLES[name];
      assert.ok(args, `error class ${name} has no sample in test/error-classes.test.ts: add one`);
      const error = new ErrorClass(...args);
      assert.ok(error instanceof Error, name);
      assert.ok(error.message.length > 0, `${name} has an empty message`);
      assert.equal(error.name, name, `${name}.name`);
    }
  });

  it('the strict-loading error lists the wrong shape and names the file', async () => {
    const { StateDictMismatchError } = (await import(pathToFileURL(path.join(DIST, 'model/weights/validate.js')).href)) as {
      StateDictMismatchError: new (...args: unknown[]) => Error & { file?: string };
    };
    const error = new StateDictMismatchError(...(SAMPLES.StateDictMismatchError as unknown[]));
    assert.match(error.message, /^w\.pth: state dict does not match/);
    assert.match(error.message, /wrong shape classifier\.low_classifier\.weight: expected \[19, 40, 1, 1\], got \[21, 40, 1, 1\]/);
    assert.equal(error.file, 'w.pth');
  });
});
