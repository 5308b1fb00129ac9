/** Shared fixtures of the server and route tests (not a test file itself). */
import assert from 'node:assert/strict';
import sharp from 'sharp';
import type { FastifyInstance } from 'fastify';
import { buildApp, type AppDeps } from '../server/app.js';
import { loadConfig, type ServerConfig } from '../server/config.js';
import type { InferenceJob, InferenceResult } from '../server/inference.js';
import type { JobRunner } from '../server/inference-queue.js';
import type { LoadedModel } from '../model/loaded-model.js';
import { testModelEnv } from './cli-helpers.js';

/** Settings for tests: quiet logs, small inference size, the seeded init (offline); `env` overrides like the real env vars. */
export function testConfig(env: Record<string, string> = {}): ServerConfig {
  return loadConfig({ LOG_LEVEL: 'silent', CITYSEG_INFERENCE_SIZE: '64', ...testModelEnv(env), ...env });
}

/**
 * The app with the real default models (untrained seeded init), started as production starts it (server/start-server.ts):
 * buildApp, then the model repository loads and warms the models on their runner, publishes them and marks the app
 * ready. The app disposes them on close.
 */
export async function appWithDefaultModels(config: ServerConfig, deps: Omit<AppDeps, 'models'> = {}): Promise<FastifyInstance> {
  const app = await buildApp(config, deps);
  await app.ready();
  await app.repository.start();
  return app;
}

/** The same, listening on an ephemeral loopback port before the models load (as production listens first): the app and its base URL. */
export async function listeningAppWithDefaultModels(config: ServerConfig): Promise<{ app: FastifyInstance; baseUrl: string }> {
  const app = await buildApp(config);
  await app.listen({ port: 0, host: '127.0.0.1' });
  await app.repository.start();
  const address = app.server.address();
  if (!address || typeof address !== 'object') throw new Error('the app is not listening on a TCP port');
  return { app, baseUrl: `http://127.0.0.1:${address.port}` };
}

/** Deterministic RGB pixels: a different smooth pattern per seed, so the network sees varied input. */
export function patternPixels(width: number, height: number, seed = 0): Buffer {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = (x * 5 + y * 3 + seed * 37) & 255;
      data[i + 1] = (Math.round(128 + 127 * Math.sin((x + seed) / 9)) + y) & 255;
      data[i + 2] = ((x ^ y) * 3 + seed * 11) & 255;
    }
  }
  return data;
}

export function encodeImage(width: number, height: number, seed = 0, format: 'png' | 'jpeg' = 'png'): Promise<Buffer> {
  const image = sharp(patternPixels(width, height, seed), { raw: { width, height, channels: 3 } });
  return (format === 'png' ? image.png() : image.jpeg({ quality: 90 })).toBuffer();
}

/** Decodes a PNG/JPEG answer to raw pixels with the file's own channel count (grey stays one channel). */
export async function decodeRaw(bytes: Buffer): Promise<{ data: Buffer; width: number; height: number; channels: number }> {
  const { channels } = await sharp(bytes).metadata();
  // sharp's raw output is sRGB unless told otherwise.
  const decoder = channels === 1 ? sharp(bytes).toColourspace('b-w') : sharp(bytes);
  const { data, info } = await decoder.raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

/** A classifier whose engine always answers `logits` (after checking the input is a 224x224 crop). */
export function fixedLogitsClassifier(logits: Float32Array, id = 'fixed-logits'): LoadedModel {
  return {
    id,
    task: 'classification',
    arch: 'mobilenet_v3_small',
    numClasses: logits.length,
    parameterCount: 0,
    weights: { trained: false, source: 'test-fixture', sha256: null },
    engineName: 'tfjs',
    engine: {
      engine: 'tfjs',
      backend: 'test',
      async run(input) {
        assert.deepEqual(input.shape, [1, 224, 224, 3]);
        return { data: logits.slice(), shape: [1, logits.length] };
      },
      dispose() {},
    },
  };
}

/** The app's runners behind a gate: jobs start (and are recorded) but reach the runners only once `open()` is called. */
export class GatedRunner implements JobRunner<InferenceJob, InferenceResult> {
  readonly started: InferenceJob[] = [];
  private readonly inner: JobRunner<InferenceJob, InferenceResult>;
  private release!: () => void;
  private readonly gate = new Promise<void>((resolve) => (this.release = resolve));

  constructor(runners: JobRunner<InferenceJob, InferenceResult>) {
    this.inner = runners;
  }

  open(): void {
    this.release();
  }

  async run(job: InferenceJob, lane?: string, cancelled?: AbortSignal): Promise<InferenceResult> {
    this.started.push(job);
    await this.gate;
    return this.inner.run(job, lane, cancelled);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Resolves once `condition()` holds, polling every 5 ms; throws after `ms`. */
export async function eventually(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
