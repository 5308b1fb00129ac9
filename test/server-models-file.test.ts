/**
 * The model repository through the compiled server (dist/server/main.js): the four example models
 * answering /v1/segment, /v1/classify and /v1/models; every bad models file stopping start-up with one line and
 * exit status 2; `?model` errors; per-model inference-mode defaults; and the admin reload route's off/401 states.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fixture, runCli, tempDir } from './cli-helpers.js';
import { readyServer, startServer, type Server } from './server-process.js';
import { decodeRaw, encodeImage } from './server-helpers.js';
import { fixtureCheckpoints, sha256Of, startMirror, testPresets, writePresets, type Mirror } from './weights-mirror.js';

/** The parts of a model card and a JSON segmentation these tests read. */
interface Card {
  weights: Record<string, unknown>;
  classes: unknown[];
  workers: number;
  inference: { mode: string; forwardPasses?: number };
}

const SEGMENTATION_CHECKPOINT = fixture('parity', 'lraspp_mobilenet_v3_large.pth');

let dir: string;
let cleanup: () => Promise<void>;
before(async () => {
  ({ dir, cleanup } = await tempDir('models-file'));
});
after(() => cleanup());

/** Writes a models file (YAML text) into the test's directory; returns its path. */
async function modelsFile(name: string, text: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, text);
  return file;
}

describe('a bad models file stops start-up with one line naming the entry, exit status 2', () => {
  const cases: [string, string, string][] = [
    ['unknown key', 'models:\n  - name: voc\n    wieghts: torchvision:lraspp_mobilenet_v3_large\n', 'model "voc": unknown key "wieghts" (known: name, arch, weights, weightsKey, labels, numClasses, inferenceSize, engine, threads, workers, maxBatch, precision, quantization, default, mode, crop, stride, scales, flip)'],
    ['duplicate name', 'models:\n  - name: a\n  - name: a\n    arch: lraspp_mobilenet_v3_small\n', 'model "a": the name is used twice'],
    ['name not URL-safe', 'models:\n  - name: "a/b"\n', 'model "a/b": name must be 1-64 letters, digits and -._~ starting with a letter or digit, got "a/b"'],
    ['no name', 'models:\n  - arch: mobilenet_v3_small\n', 'model #1: name must be 1-64 letters, digits and -._~ starting with a letter or digit, got null'],
    ['two defaults of one task', 'models:\n  - name: a\n    default: true\n  - name: b\n    arch: lraspp_mobilenet_v3_small\n    default: true\n  - name: c\n    arch: mobilenet_v3_small\n    default: true\n', 'model "b": a second default segmentation model (the first is "a")'],
    ['a setting out of range', 'models:\n  - name: a\n    workers: 99\n', "model \"a\": workers: expected an integer in 0..64, got '99'"],
    ['an unknown arch', 'models:\n  - name: a\n    arch: resnet50\n', "model \"a\": arch: expected one of mobilenet_v3_large, mobilenet_v3_small, lraspp_mobilenet_v3_large, lraspp_mobilenet_v3_small, fastseg_mobilev3_large, fastseg_mobilev3_small, got 'resnet50'"],
    ['a mode default that cannot work', 'models:\n  - name: a\n    mode: slide\n    crop: 64x64\n    stride: 128x128\n', 'model "a": stride 128x128 is larger than the crop 64x64: pixels between windows would get no prediction'],
    ['int8 without its quantisation file', 'models:\n  - name: a\n    precision: int8\n', 'model "a": precision: precision int8 needs a quantisation file: make one with cityseg quantize --calibrate DIR --out FILE and pass --quantization FILE'],
    ['more models than one service runs', `models:\n${Array.from({ length: 33 }, (_, i) => `  - name: m${i}\n`).join('')}`, 'the "models" list has 33 entries, more than the 32 one service runs (each holds its own engine and threads)'],
    ['not a models list', 'model:\n  - name: a\n', 'expected a mapping with a "models" list'],
    ['not YAML', 'models: [\n', 'not YAML or JSON: '],
  ];
  for (const [what, text, detail] of cases) {
    it(what, async () => {
      const file = await modelsFile(`bad-${what.replaceAll(' ', '-')}.yaml`, text);
      const server = startServer({ CITYSEG_MODELS: file });
      assert.equal(await server.exit, 2);
      const expected = `cityseg-server: models file ${file}: ${detail}`;
      if (detail.endsWith(': ')) assert.ok(server.stderr().startsWith(expected), server.stderr());
      else assert.equal(server.stderr(), `${expected}\n`);
      assert.equal(server.stderr().trimEnd().split('\n').length, 1);
    });
  }

  it('cityseg serve says the same, exit status 2', async () => {
    const file = await modelsFile('bad-serve.yaml', 'models:\n  - name: voc\n    wieghts: none\n');
    // Empty is unset: the CLI helper's untrained weights settings would be refused beside a models file.
    const run = await runCli(['serve', '--models', file, '--port', '0'], { CITYSEG_WEIGHTS: '', CITYSEG_CLASSIFIER_WEIGHTS: '' });
    assert.equal(run.code, 2);
    assert.match(run.stderr, new RegExp(`^cityseg: models file ${file}: model "voc": unknown key "wieghts" \\(known: [^\n]*\\)\n$`));
  });

  it('a single-model setting beside a models file is refused, naming it', async () => {
    const file = await modelsFile('with-weights.yaml', 'models:\n  - name: a\n    arch: lraspp_mobilenet_v3_small\n');
    const server = startServer({ CITYSEG_MODELS: file, CITYSEG_WEIGHTS: '/weights/other.pth' });
    assert.equal(await server.exit, 2);
    assert.equal(
      server.stderr(),
      'cityseg-server: invalid setting CITYSEG_WEIGHTS: has no effect with a models file (CITYSEG_MODELS): set it on the model\'s entry in that file\n',
    );
  });

  it('a models file that is not a regular file (a symlink to /dev/zero) is refused without reading it', async () => {
    const file = path.join(dir, 'zero.yaml');
    await symlink('/dev/zero', file);
    const server = startServer({ CITYSEG_MODELS: file });
    assert.equal(await server.exit, 2);
    assert.equal(server.stderr(), `cityseg-server: models file ${file}: cannot be read: it is not a regular file\n`);
  });

  it('unloadable weights', async () => {
    const missing = path.join(dir, 'missing.pth');
    const file = await modelsFile('bad-weights.yaml', `models:\n  - name: small\n    arch: lraspp_mobilenet_v3_small\n  - name: city\n    weights: ${missing}\n`);
    const server = startServer({ CITYSEG_MODELS: file });
    assert.equal(await server.exit, 2);
    assert.match(server.stderr(), new RegExp(`^cityseg-server: models file ${file}: model "city": .*missing\\.pth.*\n$`));
    assert.equal(server.stderr().trimEnd().split('\n').length, 1);
  });

  it('a checkpoint of the other task given as a second default', async () => {
    // "a" names torchvision's arch: the default (fastseg) refuses this process's inference size 64 first.
    const file = await modelsFile('bad-task.yaml', `models:\n  - name: a\n    arch: lraspp_mobilenet_v3_small\n    default: true\n  - name: city\n    weights: ${SEGMENTATION_CHECKPOINT}\n    default: true\n`);
    const server = startServer({ CITYSEG_MODELS: file, CITYSEG_WORKERS: '0' });
    assert.equal(await server.exit, 2);
    assert.equal(server.stderr(), `cityseg-server: models file ${file}: model "city": a second default segmentation model (the first is "a")\n`);
  });
});

describe("the issue's four example models in one service", () => {
  let mirror: Mirror;
  let server: Server;
  let base: string;
  let files: Awaited<ReturnType<typeof fixtureCheckpoints>>;

  before(async () => {
    files = await fixtureCheckpoints();
    mirror = await startMirror({ 'lraspp_test.pth': files.segmentation, 'mobilenet_test.pth': files.classifier });
    const presets = await writePresets(dir, testPresets(files));
    const file = await modelsFile(
      'four.yaml',
      [
        'models:',
        '  - name: cityscapes',
        '    arch: lraspp_mobilenet_v3_large',
        `    weights: ${SEGMENTATION_CHECKPOINT}`,
        '    default: true',
        '  - name: voc',
        '    weights: torchvision:lraspp_mobilenet_v3_large',
        '  - name: small',
        '    arch: lraspp_mobilenet_v3_small',
        '    mode: slide',
        '    crop: 32x32',
        '    stride: 32x32',
        '  - name: imagenet',
        '    arch: mobilenet_v3_small',
        '',
      ].join('\n'),
    );
    ({ server, base } = await readyServer({
      CITYSEG_MODELS: file,
      CITYSEG_TEST_PRESETS: presets,
      CITYSEG_WEIGHTS_MIRROR: mirror.url,
      CITYSEG_CACHE_DIR: path.join(dir, 'cache'),
      CITYSEG_WORKERS: '1',
    }));
  });
  after(async () => {
    server.child.kill('SIGTERM');
    await server.exit;
    await mirror.close();
  });

  const post = async (route: string, image: Buffer) =>
    fetch(`${base}${route}`, { method: 'POST', body: new Uint8Array(image), headers: { 'content-type': 'image/png' } });

  it('/v1/models lists them in file order with task, arch, classes, trained, ready, default', async () => {
    const { models } = (await (await fetch(`${base}/v1/models`)).json()) as { models: Record<string, unknown>[] };
    assert.deepEqual(
      models.map(({ name, task, arch, numClasses, trained, ready, default: isDefault }) => ({ name, task, arch, numClasses, trained, ready, default: isDefault })),
      [
        { name: 'cityscapes', task: 'segmentation', arch: 'lraspp_mobilenet_v3_large', numClasses: 19, trained: true, ready: true, default: true },
        { name: 'voc', task: 'segmentation', arch: 'lraspp_mobilenet_v3_large', numClasses: 19, trained: true, ready: true, default: false },
        { name: 'small', task: 'segmentation', arch: 'lraspp_mobilenet_v3_small', numClasses: 19, trained: false, ready: true, default: false },
        { name: 'imagenet', task: 'classification', arch: 'mobilenet_v3_small', numClasses: 1000, trained: false, ready: true, default: true },
      ],
    );
  });

  it('/v1/models/{name} is the full card: weights source and sha256, classes with colours, mode defaults', async () => {
    const voc = (await (await fetch(`${base}/v1/models/voc`)).json()) as Card;
    assert.deepEqual(voc.weights, {
      trained: true,
      source: 'torchvision:lraspp_mobilenet_v3_large.TEST_CITYSCAPES_V1',
      sha256: sha256Of(files.segmentation),
      origin: 'given',
    });
    assert.equal(voc.classes.length, 19);
    assert.deepEqual(voc.classes[0], { index: 0, id: 7, name: 'road', color: [128, 64, 128] });
    assert.equal(voc.workers, 1);
    const cityscapes = (await (await fetch(`${base}/v1/models/cityscapes`)).json()) as Card;
    assert.deepEqual(cityscapes.weights, { trained: true, source: SEGMENTATION_CHECKPOINT, sha256: sha256Of(files.segmentation), origin: 'given' });
    const small = (await (await fetch(`${base}/v1/models/small`)).json()) as Card;
    assert.deepEqual(small.inference, { mode: 'slide', crop: { height: 32, width: 32 }, stride: { height: 32, width: 32 }, scales: [1], flip: false });
    const missing = await fetch(`${base}/v1/models/nope`);
    assert.equal(missing.status, 404);
  });

  it('answers /v1/segment and /v1/classify per model; absent ?model is the default of the task', async () => {
    const image = await encodeImage(64, 48, 2);
    const byName: Record<string, Buffer> = {};
    for (const name of ['cityscapes', 'voc', 'small']) {
      const res = await post(`/v1/segment?format=trainIds&model=${name}`, image);
      assert.equal(res.status, 200, name);
      assert.equal(res.headers.get('x-model'), name);
      byName[name] = (await decodeRaw(Buffer.from(await res.arrayBuffer()))).data;
    }
    // The same weights by two routes (a file and a preset) give the same mask; another network gives another.
    assert.deepEqual(byName.voc, byName.cityscapes);
    assert.notDeepEqual(byName.small, byName.cityscapes);
    const fallback = await post('/v1/segment?format=trainIds', image);
    assert.equal(fallback.headers.get('x-model'), 'cityscapes');
    assert.deepEqual((await decodeRaw(Buffer.from(await fallback.arrayBuffer()))).data, byName.cityscapes);

    const classified = await post('/v1/classify?topk=3', image);
    assert.equal(classified.status, 200);
    assert.equal(classified.headers.get('x-model'), 'imagenet');
    assert.equal(((await classified.json()) as { classes: unknown[] }).classes.length, 3);
  });

  it('answers the Open Inference Protocol for each of them: metadata, and infer equal to /v1 for the same model', async () => {
    const image = await encodeImage(64, 48, 4);
    for (const name of ['cityscapes', 'voc', 'small', 'imagenet']) {
      const metadata = (await (await fetch(`${base}/v2/models/${name}`)).json()) as { name: string; outputs: { name: string }[] };
      assert.equal(metadata.name, name);
      const ready = await fetch(`${base}/v2/models/${name}/ready`);
      assert.equal(ready.status, 200, name);
      const res = await fetch(`${base}/v2/models/${name}/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: name, inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [image.toString('base64')] }] }),
      });
      assert.equal(res.status, 200, name);
      const answer = (await res.json()) as { id: string; model_name: string; outputs: { name: string; datatype: string; shape: number[]; data: number[] }[] };
      assert.equal(answer.model_name, name);
      assert.equal(answer.id, name);
      const [output] = answer.outputs;
      if (name === 'imagenet') {
        assert.deepEqual([output.name, output.datatype, output.shape], ['probabilities', 'FP32', [1000]]);
        assert.ok(Math.abs(output.data.reduce((a, b) => a + b, 0) - 1) < 1e-3, 'probabilities sum to 1');
        continue;
      }
      assert.deepEqual([output.name, output.datatype, output.shape], ['class_ids', 'UINT8', [48, 64]]);
      // The same model's defaults (small: slide) on both APIs: the same label ids, pixel for pixel.
      const rest = await post(`/v1/segment?format=labelIds&model=${name}`, image);
      assert.deepEqual(output.data, [...(await decodeRaw(Buffer.from(await rest.arrayBuffer()))).data], name);
    }
    // small slides by default: logits need one whole pass, and the refusal says it is the model's default.
    const logits = (parameters: object) =>
      fetch(`${base}/v2/models/small/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [image.toString('base64')] }], outputs: [{ name: 'logits' }], parameters }),
      });
    const refused = await logits({});
    assert.equal(refused.status, 400);
    assert.match(((await refused.json()) as { error: string }).error, /model "small" runs mode=slide by default: ask for it with parameters \{"mode": "whole"/);
    const whole = await logits({ mode: 'whole' });
    assert.equal(whole.status, 200);
    const unknown = await fetch(`${base}/v2/models/nope/infer`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    assert.equal(unknown.status, 404);
    assert.match(((await unknown.json()) as { error: string }).error, /unknown model "nope" \(served: cityscapes, voc, small, imagenet\)/);
  });

  it("applies a model's mode defaults where the request sets none, and the request's where it does", async () => {
    const image = await encodeImage(64, 48, 3);
    const slid = (await (await post('/v1/segment?format=json&model=small', image)).json()) as Card;
    // 64x48 in 32x32 windows every 32 pixels: 2 x 2 windows.
    assert.deepEqual(slid.inference, { mode: 'slide', crop: { height: 32, width: 32 }, stride: { height: 32, width: 32 }, scales: [1], flip: false, forwardPasses: 4 });
    const flipped = (await (await post('/v1/segment?format=json&model=small&flip=true', image)).json()) as Card;
    assert.equal(flipped.inference.forwardPasses, 8);
    const whole = (await (await post('/v1/segment?format=json&model=small&mode=whole', image)).json()) as Card;
    assert.deepEqual(whole.inference, { mode: 'whole', scales: [1], flip: false, forwardPasses: 1 });
    const other = (await (await post('/v1/segment?format=json&model=voc', image)).json()) as Card;
    assert.equal(other.inference.mode, 'whole');
  });

  it('?model errors: 404 listing the names for an unknown one, 400 naming a model of the other task', async () => {
    const image = await encodeImage(32, 32, 1);
    const unknown = await post('/v1/segment?model=nope', image);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    assert.equal(((await unknown.json()) as { detail: string }).detail, 'unknown model "nope" (served: cityscapes, voc, small, imagenet)');
    const classifier = await post('/v1/segment?model=imagenet', image);
    assert.equal(classifier.status, 400);
    assert.equal(
      ((await classifier.json()) as { detail: string }).detail,
      'querystring/model "imagenet" is a classification model, not a segmentation one (segmentation models: cityscapes, voc, small)',
    );
    const segmenter = await post('/v1/classify?model=small', image);
    assert.equal(segmenter.status, 400);
    assert.match(((await segmenter.json()) as { detail: string }).detail, /"small" is a segmentation model, not a classification one \(classification models: imagenet\)/);
  });

  it('labels metrics with the model, and keeps the admin route off without a token (404)', async () => {
    const metrics = await (await fetch(`${base}/metrics`)).text();
    for (const name of ['cityscapes', 'voc', 'small', 'imagenet']) {
      assert.match(metrics, new RegExp(`^cityseg_model_info\\{[^}]*model="${name}"[^}]*\\} 1$`, 'm'));
    }
    assert.match(metrics, /^cityseg_http_requests_total\{[^}]*route="\/v1\/segment"[^}]*model="small"[^}]*\} \d+$/m);
    assert.match(metrics, /^cityseg_inference_duration_seconds_count\{model="voc",task="segmentation"\} \d+$/m);
    const admin = await fetch(`${base}/v1/admin/reload`, { method: 'POST' });
    assert.equal(admin.status, 404);
  });
});
