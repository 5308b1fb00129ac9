import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildApp } from '../server/app.js';
import { loadConfig, SETTINGS } from '../server/config.js';
import { UNTRAINED_DEFAULTS } from '../model/load-model.js';
import { defaultPresetFor, findPreset, PRESETS } from '../model/weights/presets.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const read = (path: string): string => readFileSync(ROOT + path, 'utf8');

interface Instruction {
  /** Upper-cased keyword: FROM, RUN, COPY, ... */
  keyword: string;
  /** Everything after the keyword, continuation lines joined with a space. */
  args: string;
  /** 1-based line where the instruction starts. */
  line: number;
}

interface Stage {
  name: string | undefined;
  image: string;
  instructions: Instruction[];
}

/** Splits a Dockerfile into instructions: drops comments and blank lines, joins `\` continuations. */
function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending: { text: string; line: number } | undefined;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    // Comment lines are removed even inside a continued instruction, as Docker does.
    if (line.startsWith('#') || (line === '' && pending === undefined)) return;
    const continues = line.endsWith('\\');
    const body = continues ? line.slice(0, -1).trim() : line;
    pending = pending ? { text: `${pending.text} ${body}`.trim(), line: pending.line } : { text: body, line: index + 1 };
    if (continues) return;
    const [keyword, ...rest] = pending.text.split(/\s+/);
    if (keyword) instructions.push({ keyword: keyword.toUpperCase(), args: rest.join(' '), line: pending.line });
    pending = undefined;
  });
  if (pending) throw new Error(`Dockerfile line ${pending.line}: continuation runs past the end of the file`);
  return instructions;
}

/** Groups instructions by FROM; resolves `${ARG}` in the image from the ARGs declared before the first FROM. */
function stagesOf(instructions: Instruction[]): Stage[] {
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const words = instruction.args.split(/\s+/).filter((word) => !word.startsWith('--'));
      const image = words[0].replace(/\$\{?(\w+)\}?/g, (_, name: string) => globalArgs.get(name) ?? '');
      const name = words[1]?.toUpperCase() === 'AS' ? words[2] : undefined;
      stages.push({ name, image, instructions: [] });
    } else if (stages.length === 0 && instruction.keyword === 'ARG') {
      const [name, value = ''] = instruction.args.split('=');
      globalArgs.set(name, value);
    } else if (stages.length > 0) {
      stages[stages.length - 1].instructions.push(instruction);
    }
  }
  return stages;
}

/** Exec-form (JSON array) arguments, e.g. CMD ["node", "x.js"]; undefined for shell form. */
function execForm(args: string): string[] | undefined {
  const json = args.replace(/^(--\S+\s+)*/, '').replace(/^CMD\s+/, '');
  return json.startsWith('[') ? (JSON.parse(json) as string[]) : undefined;
}

/** `KEY=value KEY2="v 2"` pairs of an ENV instruction. */
function envPairs(args: string): [string, string][] {
  return [...args.matchAll(/(\w+)=("[^"]*"|\S*)/g)].map(([, key, value]) => [key, value.replace(/^"|"$/g, '')]);
}

function copySources(instruction: Instruction): { from: string | undefined; sources: string[] } {
  const words = instruction.args.split(/\s+/);
  const from = words.find((word) => word.startsWith('--from='))?.slice('--from='.length);
  const paths = words.filter((word) => !word.startsWith('--'));
  return { from, sources: paths.slice(0, -1) };
}

/** .dockerignore semantics: root-relative globs, `**` spans directories, a match on a folder covers its contents, last match wins. */
function dockerIgnored(patterns: string[], path: string): boolean {
  const toRegExp = (glob: string): RegExp =>
    new RegExp(
      '^' +
        glob
          .replace(/^\/+|\/+$/g, '')
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*\*\/?|\*|\?/g, (token) => (token.startsWith('**') ? '(?:.*/)?' : token === '*' ? '[^/]*' : '[^/]')) +
        '(?:/.*)?$',
    );
  let ignored = false;
  for (const pattern of patterns) {
    const negated = pattern.startsWith('!');
    if (toRegExp(negated ? pattern.slice(1) : pattern).test(path)) ignored = !negated;
  }
  return ignored;
}

const stages = stagesOf(parseDockerfile(read('Dockerfile')));
const final = stages[stages.length - 1];
const finalOf = (keyword: string): Instruction[] => final.instructions.filter((i) => i.keyword === keyword);
const lastOf = (keyword: string): Instruction => {
  const found = finalOf(keyword);
  assert.ok(found.length > 0, `the final stage has no ${keyword}`);
  return found[found.length - 1];
};
const defaultPort = SETTINGS.port.fallback;

test('the parser joins continuations, drops comments and reads stage names and exec forms', () => {
  const parsed = parseDockerfile('ARG B=node:22\n# c\nFROM ${B} AS one\nRUN a \\\n  # inner\n  && b\nFROM one\nCMD ["x", "y"]\n');
  assert.deepEqual(
    parsed.map((i) => [i.keyword, i.args, i.line]),
    [['ARG', 'B=node:22', 1], ['FROM', '${B} AS one', 3], ['RUN', 'a && b', 4], ['FROM', 'one', 7], ['CMD', '["x", "y"]', 8]],
  );
  assert.deepEqual(stagesOf(parsed).map((s) => [s.name, s.image, s.instructions.length]), [['one', 'node:22', 1], [undefined, 'one', 1]]);
  assert.deepEqual(execForm('["x", "y"]'), ['x', 'y']);
  assert.equal(execForm('node x.js'), undefined);
  assert.deepEqual(envPairs('A=1 B="two words" C='), [['A', '1'], ['B', 'two words'], ['C', '']]);
  assert.equal(dockerIgnored(['test', '!test/keep'], 'test/a.ts'), true);
  assert.equal(dockerIgnored(['test', '!test/keep'], 'test/keep'), false);
  assert.equal(dockerIgnored(['**/fixtures'], 'a/b/fixtures/x.png'), true);
  assert.equal(dockerIgnored(['*.pth'], 'model/x.pth'), false, 'a root pattern without ** matches the root only');
});

test('the Dockerfile is multi-stage with every stage named, on an official glibc Node LTS image', () => {
  assert.ok(stages.length >= 2, `expected >= 2 FROM, found ${stages.length}`);
  for (const stage of stages) assert.ok(stage.name, `FROM ${stage.image} has no 'AS <name>'`);
  for (const { image } of stages) {
    const match = /^node:(\d+)(?:[.\d]*)-(bookworm|bullseye|trixie)(?:-slim)?$/.exec(image);
    assert.ok(match, `${image} is not an official Debian-based node image (sharp needs glibc)`);
    const major = Number(match[1]);
    // Even majors are LTS; tfjs-node 4.22 calls util.isNullOrUndefined, gone from Node 23 on.
    assert.ok(major % 2 === 0 && major >= 20 && major < 23, `node ${major} is not an LTS that tfjs-node 4.22 runs on`);
  }
});

test('the build stage installs with scripts, compiles, then prunes devDependencies', () => {
  const build = stages.find((stage) => stage.instructions.some((i) => /npm prune --omit=dev/.test(i.args)));
  assert.ok(build, 'no stage runs npm prune --omit=dev');
  const runs = build.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args).join(' && ');
  const steps = ['npm ci', 'npm run build', 'npm prune --omit=dev'].map((step) => runs.indexOf(step));
  assert.ok(steps.every((at) => at >= 0), `missing one of npm ci / npm run build / npm prune in: ${runs}`);
  assert.deepEqual([...steps].sort((a, b) => a - b), steps, 'npm ci, npm run build and npm prune must run in this order');
  assert.doesNotMatch(runs, /--ignore-scripts(?!=false)/, 'install scripts must run (tfjs-node downloads libtensorflow)');
  // npm releases that enforce allowScripts run only approved install scripts.
  const { allowScripts } = JSON.parse(read('package.json')) as { allowScripts?: Record<string, boolean> };
  assert.equal(allowScripts?.['@tensorflow/tfjs-node'], true, 'package.json allowScripts must approve @tensorflow/tfjs-node');
  // onnxruntime-node's script only fetches CUDA libraries (its CPU binaries are in the package): denied where npm
  // enforces allowScripts, skipped by its variable where npm does not (the image's Node 22 ships npm 10).
  assert.equal(allowScripts?.['onnxruntime-node'], false, 'package.json allowScripts must deny onnxruntime-node');
  const buildEnv = build.instructions.filter((i) => i.keyword === 'ENV' && i.line < build.instructions.find((r) => /npm ci/.test(r.args))!.line);
  assert.ok(buildEnv.some((i) => /\bONNXRUNTIME_NODE_INSTALL=skip\b/.test(i.args)), 'ONNXRUNTIME_NODE_INSTALL=skip must be set before npm ci');
  assert.match(runs, /require\('@tensorflow\/tfjs-node'\)/, 'the build must fail when tfjs-node did not install');
  assert.doesNotMatch(runs.slice(steps[2]), /npm (ci|install|i)\b/, 'nothing may be installed after the prune');
  // The final stage takes node_modules from exactly this stage.
  const modules = finalOf('COPY').map(copySources).find(({ sources }) => sources.some((s) => /node_modules\/?$/.test(s)));
  assert.ok(modules, 'the final stage copies no node_modules');
  assert.equal(modules.from, build.name);
});

test('the final stage copies only production node_modules, dist, public and package.json from the build', () => {
  // /cache: the default presets fetched at build time.
  const allowed = new Set(['package.json', 'node_modules', 'dist', 'public', '/cache']);
  const copies = [...finalOf('COPY'), ...finalOf('ADD')];
  assert.ok(copies.length > 0);
  for (const instruction of copies) {
    const { from, sources } = copySources(instruction);
    assert.ok(from && stages.some((stage) => stage.name === from), `line ${instruction.line}: copies from the build context`);
    for (const source of sources) {
      const base = source.replace(/^\/app\//, '').replace(/\/$/, '');
      assert.ok(allowed.has(base), `line ${instruction.line}: the final stage must not ship ${source}`);
    }
  }
  const finalRuns = finalOf('RUN').map((i) => i.args).join('\n');
  assert.doesNotMatch(finalRuns, /\b(npm|yarn|pnpm|npx)\b/, 'the final stage must not install packages');
  const devDependencies = Object.keys((JSON.parse(read('package.json')) as { devDependencies: object }).devDependencies);
  for (const name of devDependencies) assert.ok(!finalRuns.includes(name), `the final stage mentions devDependency ${name}`);
});

test('the build fetches the default presets with the compiled CLI into the cache the final stage ships', () => {
  const build = stages.find((stage) => stage.instructions.some((i) => /weights fetch/.test(i.args)));
  assert.ok(build, 'no stage runs cityseg weights fetch');
  const runs = build.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args).join(' && ');
  const fetch = /CITYSEG_CACHE_DIR=(\S+) node dist\/cli\/main\.js weights fetch ((?:(?:torchvision|fastseg):\S+ ?)+)/.exec(runs);
  assert.ok(fetch, `the fetch must run dist/cli/main.js with CITYSEG_CACHE_DIR set: ${runs}`);
  assert.ok(runs.indexOf('npm run build') < fetch.index, 'the presets are fetched after the build');
  // Exactly the presets the server uses when no weights are configured.
  const fetched = fetch[2].trim().split(/\s+/).map((name) => findPreset(name.replace(/;$/, ''), PRESETS).name);
  const defaults = (['segmentation', 'classification'] as const).map((task) => defaultPresetFor(UNTRAINED_DEFAULTS[task].arch, PRESETS)?.name);
  assert.deepEqual(fetched, defaults);
  // The final stage ships that directory, writable by its user, as its cache, before declaring the volume.
  const env = Object.fromEntries(finalOf('ENV').flatMap((i) => envPairs(i.args)));
  const copy = finalOf('COPY').find((i) => copySources(i).sources.includes(fetch[1]));
  assert.ok(copy, `the final stage does not copy ${fetch[1]}`);
  assert.equal(copySources(copy).from, build.name);
  assert.match(copy.args, /--chown=node:node/);
  assert.equal(copy.args.split(/\s+/).at(-1), env.CITYSEG_CACHE_DIR, 'copied to the runtime CITYSEG_CACHE_DIR');
  assert.ok(copy.line < lastOf('VOLUME').line, 'a volume declared first would drop the copied files');
});

test('the final stage runs as a non-root user', () => {
  const user = lastOf('USER');
  assert.doesNotMatch(user.args, /^(root|0)(:|$)/, `USER ${user.args} is root`);
  assert.ok(user.line < lastOf('CMD').line, 'USER must come before CMD');
});

test('EXPOSE and HEALTHCHECK use the server default port, and the healthcheck hits /healthz', () => {
  assert.equal(defaultPort, 8080);
  assert.deepEqual(finalOf('EXPOSE').map((i) => i.args), [String(defaultPort)]);
  const env = Object.fromEntries(finalOf('ENV').flatMap((i) => envPairs(i.args)));
  assert.equal(loadConfig(env).port, defaultPort, 'ENV PORT must match EXPOSE');
  const healthcheck = execForm(lastOf('HEALTHCHECK').args.replace(/^(--\S+\s+)*CMD\s+/, ''));
  assert.ok(healthcheck, 'HEALTHCHECK must use the exec form');
  assert.equal(healthcheck[0], 'node', 'the healthcheck runs node (the slim image has no curl)');
  const script = healthcheck.slice(1).join(' ');
  assert.match(script, /fetch\(/);
  assert.match(script, /\/healthz/);
  assert.match(script, new RegExp(`process\\.env\\.PORT \\|\\| ${defaultPort}\\b`));
  assert.match(script, /process\.exit\(1\)/, 'an unhealthy answer must exit non-zero');
});

test('the HEALTHCHECK command exits 0 against a live server and 1 once it is gone', async () => {
  const [program, ...args] = execForm(lastOf('HEALTHCHECK').args.replace(/^(--\S+\s+)*CMD\s+/, '')) ?? [];
  const app = await buildApp(loadConfig({ LOG_LEVEL: 'silent' }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = String((app.server.address() as AddressInfo).port);
  const probe = () =>
    promisify(execFile)(program === 'node' ? process.execPath : program, args, { env: { ...process.env, PORT: port } }).then(
      () => 0,
      (error: { code?: number }) => error.code ?? -1,
    );
  try {
    assert.equal(await probe(), 0);
  } finally {
    await app.close();
  }
  assert.equal(await probe(), 1);
});

test('the final stage starts the compiled server on SIGTERM-aware CMD, with settings the server accepts', () => {
  assert.deepEqual(execForm(lastOf('CMD').args), ['node', 'dist/server/main.js']);
  assert.ok(existsSync(ROOT + 'server/main.ts'), 'CMD runs dist/server/main.js but server/main.ts does not exist');
  assert.equal(lastOf('STOPSIGNAL').args, 'SIGTERM');
  const env = Object.fromEntries(finalOf('ENV').flatMap((i) => envPairs(i.args)));
  const known = new Set(['NODE_ENV', ...Object.values(SETTINGS).map((spec) => spec.env)]);
  for (const key of Object.keys(env)) assert.ok(known.has(key), `ENV ${key} is not a server setting`);
  assert.equal(loadConfig(env).cacheDir, '/cache');
});

test('.dockerignore keeps tests, fixtures, node_modules, dist and .git out and the sources in', () => {
  const patterns = read('.dockerignore')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  for (const path of ['test/deploy-k8s.test.ts', 'test/fixtures/x.png', 'node_modules/sharp/package.json', 'dist/server/main.js', '.git/HEAD', 'segmentation/fixtures/a.bin', '.cache/w.pth']) {
    assert.ok(dockerIgnored(patterns, path), `${path} would be sent to the build`);
  }
  for (const path of ['package.json', 'package-lock.json', '.npmrc', 'tsconfig.json', 'server/main.ts', 'model/loaded-model.ts', 'public/index.html', 'bin/cityseg.js']) {
    assert.ok(!dockerIgnored(patterns, path), `${path} is needed by the build but ignored`);
  }
});

test('the image sets HOST=0.0.0.0: the server binds to loopback by default, a container must listen on every interface', () => {
  assert.equal(SETTINGS.host.fallback, '127.0.0.1');
  const env = Object.fromEntries(finalOf('ENV').flatMap((i) => envPairs(i.args)));
  assert.equal(env.HOST, '0.0.0.0');
  assert.equal(loadConfig(env).host, '0.0.0.0');
});
