import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './cli-helpers.js';
import { readyServer } from './server-process.js';

const COMMANDS = ['segment', 'classify', 'eval', 'serve'];

describe('cityseg --help', () => {
  it('lists every command, and each command documents its flags with examples', async () => {
    const [top, ...helps] = await Promise.all([runCli(['--help']), ...COMMANDS.map((cmd) => runCli([cmd, '--help']))]);
    assert.equal(top.code, 0);
    for (const cmd of COMMANDS) assert.match(top.stdout, new RegExp(`^  ${cmd} `, 'm'), `${cmd} missing from cityseg --help`);
    helps.forEach((help, i) => {
      const cmd = COMMANDS[i];
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, new RegExp(`^Usage: cityseg ${cmd} `, 'm'));
      const examples = help.stdout.slice(help.stdout.indexOf('\nExamples:\n'));
      assert.ok(examples.length > 10, `${cmd} --help has no Examples section`);
      assert.ok(examples.split('\n').filter((line) => line.includes(`cityseg ${cmd}`)).length >= 2, `${cmd}: fewer than 2 examples`);
    });
    // The flags carry the server's environment variables (help text unwrapped: commander wraps at 80 columns).
    const [segment, classify, , serve] = helps.map((help) => help.stdout.replace(/\s+/g, ' '));
    const weightsFlag = '--weights <file|url|name> segmentation checkpoint: .pth/.safetensors path, URL or torchvision:<arch>[.<VARIANT>]; ' +
      'none = untrained seeded init; absent = the default preset if it can be fetched (env: CITYSEG_WEIGHTS)';
    assert.ok(segment.includes(weightsFlag), segment);
    assert.match(top.stdout, /^ {2}weights /m, 'weights missing from cityseg --help');
    assert.match(segment, /--size, --inference-size <n\|native> [^-]*\(default: 1024, env: CITYSEG_INFERENCE_SIZE\)/);
    assert.match(
      classify,
      /--arch <name> architecture: checked against the checkpoint or preset \(default: the checkpoint's or preset's; untrained: mobilenet_v3_large\) \(choices: "mobilenet_v3_large", "mobilenet_v3_small", env: CITYSEG_CLASSIFIER_ARCH\)/,
    );
    assert.match(classify, /--weights-key <key> [^(]*\(default: model \/ state_dict\) \(env: CITYSEG_CLASSIFIER_WEIGHTS_KEY\)/);
    assert.match(serve, /--port <value> listening port \(env PORT\)/);
    assert.match(serve, /--host <value> listening address \(env HOST\)/);
  });
});

describe('cityseg --version', () => {
  it("prints the package's version, as installed", async () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const run = await runCli([flag]);
      assert.deepEqual([run.code, run.stdout], [0, `${version}\n`]);
    }
  });

  it('the compiled server reports the same version in its OpenAPI document (info.version) and GET /v2', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    const { server, base } = await readyServer({ CITYSEG_ARCH: 'lraspp_mobilenet_v3_small', CITYSEG_WORKERS: '0' });
    try {
      const openapi = (await (await fetch(`${base}/openapi.json`)).json()) as { info: { version: string } };
      const v2 = (await (await fetch(`${base}/v2`)).json()) as { name: string; version: string };
      assert.deepEqual([openapi.info.version, v2.name, v2.version], [version, 'cityseg', version]);
    } finally {
      server.child.kill('SIGTERM');
      await server.exit;
    }
  });
});

describe('usage errors', () => {
  /** Each is refused before any model loads or file is read: exit status 2 and a message naming the problem. */
  const CASES: [args: string[], message: RegExp][] = [
    [['segment', 'x.png'], /required option '--out <dir>' not specified/],
    [['segment', '--out', 'o', '--format', 'labelIds,bogus', 'x.png'], /unknown format 'bogus'/],
    [['segment', '--out', 'o', '--size', '0', 'x.png'], /argument '0' is invalid\. expected an integer in 32\.\.4096, got '0'/],
    [['segment', '--out', 'o', '--alpha', '1.5', 'x.png'], /expected a number within 0\.\.1/],
    [['segment', '--out', 'o', '--arch', 'mobilenet_v3_large', 'x.png'], /expected one of fastseg_mobilev3_large, fastseg_mobilev3_small, lraspp_mobilenet_v3_large, lraspp_mobilenet_v3_small, got 'mobilenet_v3_large'/],
    [['segment', '--out', 'o'], /missing required argument 'input'/],
    [['classify', '--topk', '0', 'x.png'], /expected an integer in 1\.\.1000/],
    [['classify', '--no-such-flag', 'x.png'], /unknown option '--no-such-flag'/],
    [['classify', '--num-classes', '10', 'x.png'], /label set "imagenet" has 1000 classes but the model outputs 10/],
    [['eval', '--pred', 'p'], /give --pred DIR and --gt DIR, or --cityscapes ROOT/],
    [['eval', '--gt', 'g', '--cityscapes', 'c'], /option '--gt <dir>' cannot be used with option '--cityscapes <root>'/],
    [['segment', '--out', 'o', '--labels', 'no-such-labels.json', 'x.png'], /label set no-such-labels\.json: is neither a built-in label set/],
    [['segment', '--out', 'o', '--labels', 'voc', '--num-classes', '19', 'x.png'], /label set "voc" has 21 classes but the model outputs 19/],
    [['eval', '--cityscapes', 'root', '--num-classes', '21'], /label set "cityscapes" has 19 classes but the model outputs 21/],
    [['nonsense'], /unknown command 'nonsense'/],
  ];

  it('exit with status 2 and say what was wrong', async () => {
    const runs = await Promise.all(CASES.map(([args]) => runCli(args)));
    runs.forEach((run, i) => {
      const [args, message] = CASES[i];
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message, args.join(' '));
    });
  });

  it('reads a bad environment variable as a usage error of the command that uses it only', async () => {
    const env = { CITYSEG_ARCH: 'resnet50' };
    const [segment, evalRun] = await Promise.all([runCli(['segment', '--out', 'o', 'x.png'], env), runCli(['eval', '--pred', 'p'], { CITYSEG_CLASSIFIER_ARCH: 'none' })]);
    assert.equal(segment.code, 2);
    assert.match(segment.stderr, /option '--arch <name>' value 'resnet50' from env 'CITYSEG_ARCH' is invalid\. expected one of fastseg_mobilev3_large, fastseg_mobilev3_small, lraspp_mobilenet_v3_large, lraspp_mobilenet_v3_small, got 'resnet50'/);
    // CITYSEG_CLASSIFIER_ARCH=none is valid for the server; it must not break commands that never read it.
    assert.equal(evalRun.code, 2);
    assert.doesNotMatch(evalRun.stderr, /CITYSEG_CLASSIFIER_ARCH/);
  });
});
