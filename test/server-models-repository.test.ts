/**
 * The models file's entries as the repository reads them (every field through its setting's or option's parser),
 * and the admin reload route beside API keys: its own token, not an API key.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../server/app.js';
import { entriesFromSettings, parseModelsFile } from '../server/models-file.js';
import { tempDir } from './cli-helpers.js';
import { testConfig } from './server-helpers.js';

describe('models file entries', () => {
  it('reads JSON as well as YAML, every key by its parser, and fills the rest from the settings', () => {
    const config = testConfig({ CITYSEG_WORKERS: '3', CITYSEG_MAX_BATCH: '2' });
    const text = JSON.stringify({
      models: [
        { name: 'wide', arch: 'lraspp_mobilenet_v3_small', inferenceSize: 'native', engine: 'tfjs', threads: 2, workers: 0, numClasses: 21, labels: 'voc', mode: 'slide', crop: '256x512', stride: '171x341', scales: [0.5, 1], flip: true, default: true },
        { name: 'cls.v2', arch: 'mobilenet_v3_small', weights: 'none', scales: '0.75,1' },
      ],
    });
    assert.deepEqual(parseModelsFile('/m.json', text, config), [
      {
        name: 'wide',
        task: 'segmentation',
        arch: 'lraspp_mobilenet_v3_small',
        weights: 'none',
        weightsKey: undefined,
        labels: 'voc',
        numClasses: 21,
        inferenceSize: 'native',
        engine: 'tfjs',
        threads: 2,
        workers: 0,
        maxBatch: 2,
        precision: 'fp32',
        quantization: undefined,
        default: true,
        modeDefaults: { mode: 'slide', crop: { height: 256, width: 512 }, stride: { height: 171, width: 341 }, scales: [0.5, 1], flip: true },
      },
      {
        name: 'cls.v2',
        task: 'classification',
        arch: 'mobilenet_v3_small',
        weights: 'none',
        weightsKey: undefined,
        labels: undefined,
        numClasses: undefined,
        inferenceSize: 64,
        engine: 'auto',
        threads: 0,
        workers: 3,
        maxBatch: 2,
        precision: 'fp32',
        quantization: undefined,
        default: false,
        modeDefaults: { mode: 'whole', crop: { height: 512, width: 1024 }, stride: { height: 341, width: 683 }, scales: [0.75, 1], flip: false },
      },
    ]);
  });

  it('refuses values the request parameters refuse, naming the key', () => {
    const config = testConfig();
    const bad: [string, RegExp][] = [
      ['inferenceSize: 10', /model "m": inferenceSize: expected an integer in 32\.\.4096, got '10'/],
      ['scales: [0, 1]', /model "m": scales must be ratios in \(0, 8\], got 0/],
      ['flip: maybe', /model "m": flip: expected true or false, got 'maybe'/],
      ['crop: big', /model "m": crop must be HxW \(e\.g\. 512x1024\), got 'big'/],
      ['engine: cuda', /model "m": engine: expected one of auto, tfjs, onnx, got 'cuda'/],
      ['weights: torchvision:lraspp_mobilenet_v3_large.NOPE', /model "m": .*NOPE/],
    ];
    for (const [line, message] of bad) {
      assert.throws(() => parseModelsFile('/m.yaml', `models:\n  - name: m\n    ${line}\n`, config), (error: Error) => {
        assert.equal(error.name, 'ModelsFileError');
        assert.match(error.message, /^models file \/m\.yaml: /);
        assert.match(error.message, message);
        return true;
      });
    }
  });

  it('without a models file, the settings are one segmentation model and one classifier, unnamed and defaults', () => {
    const entries = entriesFromSettings(testConfig({ CITYSEG_ARCH: 'lraspp_mobilenet_v3_small' }));
    assert.deepEqual(entries.map(({ name, task, arch, default: isDefault }) => ({ name, task, arch, isDefault })), [
      { name: undefined, task: 'segmentation', arch: 'lraspp_mobilenet_v3_small', isDefault: true },
      { name: undefined, task: 'classification', arch: undefined, isDefault: true },
    ]);
    assert.equal(entriesFromSettings(testConfig({ CITYSEG_CLASSIFIER_ARCH: 'none' })).length, 1);
  });
});

describe('POST /v1/admin/reload beside API keys', () => {
  let app: FastifyInstance;
  let cleanup: () => Promise<void>;
  before(async () => {
    const dir = await tempDir('admin');
    cleanup = dir.cleanup;
    const keys = path.join(dir.dir, 'keys');
    await writeFile(keys, 'an-api-key\n');
    app = await buildApp(testConfig({ CITYSEG_API_KEYS: keys, CITYSEG_ADMIN_TOKEN: 'the-admin-token' }));
  });
  after(async () => {
    await app.close();
    await cleanup();
  });

  const reload = (authorization?: string) =>
    app.inject({ method: 'POST', url: '/v1/admin/reload', headers: authorization === undefined ? {} : { authorization } });

  it('takes the admin token, not an API key; without a models file it answers 409', async () => {
    const apiKey = await reload('Bearer an-api-key');
    assert.equal(apiKey.statusCode, 401);
    assert.equal(apiKey.json().detail, 'the admin token is not valid');
    const admin = await reload('Bearer the-admin-token');
    assert.equal(admin.statusCode, 409);
    assert.equal(admin.json().type, 'urn:cityseg:problem:conflict');
    assert.equal(admin.json().detail, 'no models file is configured (--models, CITYSEG_MODELS): there is nothing to reload');
  });
});
