/**
 * One settings table (server/config.ts SETTINGS) for the server and every CLI command: a flag that is a setting has
 * the setting's variable, parser, range and default, whichever command it belongs to.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Option } from 'commander';
import { readNpy } from '../model/npy.js';
import { buildProgram } from '../cli/program.js';
import { SETTINGS, type SettingName } from '../server/config.js';
import { rampImage, runCli, tempDir } from './cli-helpers.js';

const COMMANDS = ['segment', 'classify', 'eval', 'serve', 'logits', 'bench', 'export-onnx', 'quantize'];

/** Values each setting's parser is tried on: valid ones, the range's edges and beyond, junk. */
const SAMPLES: Partial<Record<SettingName, string[]>> = {
  arch: ['lraspp_mobilenet_v3_large', 'lraspp_mobilenet_v3_small', 'mobilenet_v3_large', 'resnet50'],
  classifierArch: ['mobilenet_v3_large', 'mobilenet_v3_small', 'lraspp_mobilenet_v3_large', 'vgg'],
  numClasses: ['0', '1', '19', '21', '255', '256', '1000', '2.5', 'x'],
  inferenceSize: ['8', '31', '32', '512', '4096', '4097', 'native', '-1', 'x'],
  engine: ['auto', 'onnx', 'tfjs', 'cuda'],
  labels: ['cityscapes', 'voc', 'mine.json'],
  weights: ['w.pth', 'https://example.org/w.pth'],
  classifierWeights: ['w.pth'],
  cacheDir: ['/tmp/cache'],
  workers: ['0', '2', '64', '65', '-1'],
  threads: ['0', '1', '256', '257'],
  maxBatch: ['0', '1', '64', '65'],
  precision: ['fp32', 'int8', 'int4'],
  quantization: ['q.json'],
};

/**
 * Where a command's flag departs from its setting, and why. Everything else must be equal: that is the test.
 * `parser` = accepts other values, `env` = reads no variable, `default` = another default.
 */
const DEPARTURES: Record<string, string> = {
  // classify classifies: the server's `none` (serve no classifier) has no meaning there.
  'classify --arch parser': 'classifierArch without none',
  // A check against the checkpoint: the untrained model's architecture is chosen at load time (mobilenet_v3_large).
  'classify --arch default': "the checkpoint's",
  // logits and export-onnx take any architecture, classifiers (1000 classes, no default of 19) included.
  'logits --arch parser': 'any architecture',
  'export-onnx --arch parser': 'any architecture',
  'logits --num-classes parser': 'classifiers have 1000 classes',
  'export-onnx --num-classes parser': 'classifiers have 1000 classes',
  'logits --num-classes default': '19, or 1000 for a classifier',
  'export-onnx --num-classes default': '19, or 1000 for a classifier',
  // logits reproduce torchvision's forward on the image as given unless asked to resize.
  'logits --inference-size env': 'no resize by default',
  'logits --inference-size default': 'native',
  // bench starts its own servers with the settings it measures; the caller's variables must not leak in.
  'bench --num-classes env': 'own servers',
  'bench --workers env': 'own servers',
  'bench --workers default': "the server's",
  'bench --threads env': 'own servers',
  'bench --threads default': "the server's",
  'bench --max-batch env': 'own servers',
  'bench --max-batch default': "the server's",
};

/**
 * Flags named like a setting that are not one: the server's classifier always has ImageNet's 1000 classes; bench's
 * --arch and --engine choose what to measure (repeatable, or `all`), not what to serve.
 */
const NOT_SETTINGS = new Set(['classify --num-classes', 'bench --arch', 'bench --engine']);

/** The setting an option stands for: by the variable it reads, else by the setting's flag. */
function settingOf(option: Option): SettingName | undefined {
  const entries = Object.entries(SETTINGS) as [SettingName, (typeof SETTINGS)[SettingName]][];
  return (
    entries.find(([, spec]) => option.envVar !== undefined && spec.env === option.envVar)?.[0] ??
    entries.find(([, spec]) => option.long === `--${spec.flag}`)?.[0]
  );
}

function outcome(parse: () => unknown): unknown {
  try {
    return { value: parse() };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

describe('one settings table for the server and every command', () => {
  it('every setting flag of every command has the setting variable, parser, range and default', async () => {
    let checked = 0;
    for (const name of COMMANDS) {
      const program = await buildProgram([name]);
      const command = program.commands.find((cmd) => cmd.name() === name)!;
      for (const option of command.options as Option[]) {
        const setting = settingOf(option);
        if (!setting || name === 'serve' || NOT_SETTINGS.has(`${name} ${option.long}`)) continue;
        const spec = SETTINGS[setting];
        const key = (what: string) => `${name} ${option.long} ${what}`;
        if (!DEPARTURES[key('env')]) assert.equal(option.envVar, spec.env, key('env'));
        else assert.equal(option.envVar, undefined, key('env'));
        if (!DEPARTURES[key('default')]) assert.deepEqual(option.defaultValue, spec.fallback, key('default'));
        if (!DEPARTURES[key('parser')]) {
          for (const raw of SAMPLES[setting] ?? []) {
            const expected = outcome(() => spec.parse(raw));
            assert.deepEqual(outcome(() => option.parseArg!(raw, undefined)), expected, `${key('parser')} on '${raw}'`);
          }
        }
        checked++;
      }
    }
    // segment 12, eval 11, classify 6, logits 11, export-onnx 7, bench 4, quantize 8 (--weights-key and
    // --execution-provider on every model command but bench, --max-forward-passes where an inference mode runs,
    // --precision and --quantization where the segmentation model runs): a refactor that loses them fails here.
    assert.equal(checked, 59);
  });

  it('cityseg serve has a flag for every setting and no other', async () => {
    const serve = (await buildProgram(['serve'])).commands.find((cmd) => cmd.name() === 'serve')!;
    const flags = (serve.options as Option[]).map((option) => option.long).sort();
    assert.deepEqual(flags, Object.values(SETTINGS).map((spec) => `--${spec.flag}`).sort());
  });

  it('an empty variable counts as unset, as the server reads it', async () => {
    const segment = (await buildProgram(['segment'])).commands.find((cmd) => cmd.name() === 'segment')!;
    const size = (segment.options as Option[]).find((option) => option.long === '--inference-size')!;
    assert.equal(size.parseArg!('', 1024), 1024);
  });

  it('--size 8 and CITYSEG_INFERENCE_SIZE=8 are refused alike by segment, eval and serve (exit 2)', async () => {
    const detail = "expected an integer in 32..4096, got '8'";
    const runs = await Promise.all([
      runCli(['segment', '--out', 'o', '--size', '8', 'x.png']),
      runCli(['segment', '--out', 'o', '--inference-size', '8', 'x.png']),
      runCli(['segment', '--out', 'o', 'x.png'], { CITYSEG_INFERENCE_SIZE: '8' }),
      runCli(['eval', '--cityscapes', 'root', '--size', '8']),
      runCli(['serve', '--inference-size', '8']),
      runCli(['serve'], { CITYSEG_INFERENCE_SIZE: '8' }),
    ]);
    for (const run of runs) {
      assert.equal(run.code, 2, run.stderr);
      assert.ok(run.stderr.includes(detail), run.stderr);
    }
  });

  it('logits and export-onnx default to the same 19 classes as serve and segment', async () => {
    const { dir, cleanup } = await tempDir('settings');
    try {
      const image = path.join(dir, 'street.png');
      await rampImage(40, 24).png().toFile(image);
      const out = path.join(dir, 'out.npy');
      const logits = await runCli(['logits', '--arch', 'lraspp_mobilenet_v3_small', '--out', out, image]);
      assert.equal(logits.code, 0, logits.stderr);
      assert.deepEqual(readNpy(await readFile(out)).shape, [1, 19, 24, 40]);
      // A classifier's own head: ImageNet's 1000 classes, not the segmentation default.
      const classifier = await runCli(['logits', '--arch', 'mobilenet_v3_small', '--out', out, image]);
      assert.equal(classifier.code, 0, classifier.stderr);
      assert.deepEqual(readNpy(await readFile(out)).shape, [1, 1000]);
    } finally {
      await cleanup();
    }
  });
});
