import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig, SETTINGS, threadsPerEngine } from '../server/config.js';

describe('loadConfig', () => {
  it('fills every default from the brief when nothing is set; arch, class count and labels come from the weights', () => {
    assert.deepEqual(loadConfig({}), {
      downloadIdleTimeoutMs: 30_000,
      downloadMaxBytes: 200_000_000,
      inferenceSize: 1024,
      maxPixels: 40_000_000,
      maxForwardPasses: 64,
      bodyLimit: 20 * 1024 * 1024,
      workers: 1,
      threads: 0,
      maxBatch: 1,
      batchWaitMs: 5,
      queueLimit: 64,
      clientInFlightLimit: 32,
      requestTimeoutMs: 30_000,
      stuckJobMs: 10_000,
      shutdownTimeoutMs: 30_000,
      memoryBudget: 'auto',
      maxInferencePixels: 8_388_608,
      maxAspectRatio: 100,
      headersTimeoutMs: 10_000,
      bodyIdleTimeoutMs: 10_000,
      bodyMinRate: 4096,
      maxConnections: 1024,
      keepAliveTimeoutMs: 5_000,
      engine: 'auto',
      executionProvider: 'cpu',
      precision: 'fp32',
      port: 8080,
      host: '127.0.0.1',
      logLevel: 'info',
      metricsAuth: false,
      rateLimitMax: 0,
      rateLimitWindowMs: 60_000,
      jobUploadLimit: 512 * 1024 ** 2,
      jobUploadTimeoutMs: 3_600_000,
      jobClientUploads: 2,
      jobMaxFrames: 18_000,
      jobMaxSeconds: 600,
      jobConcurrency: 1,
      jobMaxStored: 50,
      jobTtlMs: 3_600_000,
    });
  });

  it('reads every env var named in the brief', () => {
    const config = loadConfig({
      CITYSEG_ARCH: 'lraspp_mobilenet_v3_small',
      CITYSEG_WEIGHTS: '/w/seg.pth',
      CITYSEG_WEIGHTS_KEY: 'model_ema',
      CITYSEG_NUM_CLASSES: '21',
      CITYSEG_LABELS: 'voc',
      CITYSEG_CLASSIFIER_ARCH: 'none',
      CITYSEG_CLASSIFIER_WEIGHTS: 'https://example.org/c.pth',
      CITYSEG_INFERENCE_SIZE: 'native',
      CITYSEG_MAX_PIXELS: '1e6',
      CITYSEG_BODY_LIMIT: '512KiB',
      CITYSEG_MAX_FORWARD_PASSES: '200',
      CITYSEG_WORKERS: '2',
      CITYSEG_THREADS: '3',
      CITYSEG_MAX_BATCH: '4',
      CITYSEG_BATCH_WAIT_MS: '7',
      CITYSEG_QUEUE_LIMIT: '8',
      CITYSEG_CLIENT_IN_FLIGHT_LIMIT: '3',
      CITYSEG_REQUEST_TIMEOUT_MS: '1500',
      CITYSEG_SHUTDOWN_TIMEOUT_MS: '2500',
      CITYSEG_MEMORY_BUDGET: '2GiB',
      CITYSEG_MAX_INFERENCE_PIXELS: '2000000',
      CITYSEG_MAX_ASPECT_RATIO: '20',
      CITYSEG_HEADERS_TIMEOUT_MS: '3000',
      CITYSEG_BODY_IDLE_TIMEOUT_MS: '4000',
      CITYSEG_BODY_MIN_RATE: '100',
      CITYSEG_MAX_CONNECTIONS: '50',
      CITYSEG_KEEP_ALIVE_TIMEOUT_MS: '6000',
      CITYSEG_ENGINE: 'tfjs',
      CITYSEG_EXECUTION_PROVIDER: 'cuda',
      CITYSEG_PRECISION: 'fp32',
      CITYSEG_QUANTIZATION: '/w/seg.int8.json',
      CITYSEG_CACHE_DIR: '/tmp/cache',
      CITYSEG_WEIGHTS_MIRROR: 'http://mirror.internal/torchvision/',
      CITYSEG_DOWNLOAD_IDLE_TIMEOUT_MS: '5000',
      CITYSEG_DOWNLOAD_MAX_BYTES: '50MB',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      CITYSEG_FFMPEG: '/opt/ffmpeg/bin/ffmpeg',
      CITYSEG_FFPROBE: '/opt/ffmpeg/bin/ffprobe',
      CITYSEG_JOBS_DIR: '/srv/jobs',
      CITYSEG_JOB_UPLOAD_LIMIT: '100MB',
      CITYSEG_JOB_UPLOAD_TIMEOUT_MS: '120000',
      CITYSEG_JOB_CLIENT_UPLOADS: '3',
      CITYSEG_JOB_MAX_FRAMES: '900',
      CITYSEG_JOB_MAX_SECONDS: '60',
      CITYSEG_JOB_CONCURRENCY: '2',
      CITYSEG_JOB_MAX_STORED: '10',
      CITYSEG_JOB_TTL_MS: '60000',
    });
    assert.deepEqual(config, {
      arch: 'lraspp_mobilenet_v3_small',
      weights: '/w/seg.pth',
      weightsKey: 'model_ema',
      numClasses: 21,
      labels: 'voc',
      classifierArch: 'none',
      classifierWeights: 'https://example.org/c.pth',
      inferenceSize: 'native',
      maxPixels: 1_000_000,
      maxForwardPasses: 200,
      bodyLimit: 524_288,
      workers: 2,
      threads: 3,
      maxBatch: 4,
      batchWaitMs: 7,
      queueLimit: 8,
      clientInFlightLimit: 3,
      requestTimeoutMs: 1500,
      stuckJobMs: 10_000,
      shutdownTimeoutMs: 2500,
      memoryBudget: 2 * 1024 ** 3,
      maxInferencePixels: 2_000_000,
      maxAspectRatio: 20,
      headersTimeoutMs: 3000,
      bodyIdleTimeoutMs: 4000,
      bodyMinRate: 100,
      maxConnections: 50,
      keepAliveTimeoutMs: 6000,
      engine: 'tfjs',
      executionProvider: 'cuda',
      precision: 'fp32',
      quantization: '/w/seg.int8.json',
      cacheDir: '/tmp/cache',
      weightsMirror: 'http://mirror.internal/torchvision/',
      downloadIdleTimeoutMs: 5000,
      downloadMaxBytes: 50_000_000,
      port: 0,
      host: '127.0.0.1',
      logLevel: 'silent',
      metricsAuth: false,
      rateLimitMax: 0,
      rateLimitWindowMs: 60_000,
      ffmpeg: '/opt/ffmpeg/bin/ffmpeg',
      ffprobe: '/opt/ffmpeg/bin/ffprobe',
      jobsDir: '/srv/jobs',
      jobUploadLimit: 100_000_000,
      jobUploadTimeoutMs: 120_000,
      jobClientUploads: 3,
      jobMaxFrames: 900,
      jobMaxSeconds: 60,
      jobConcurrency: 2,
      jobMaxStored: 10,
      jobTtlMs: 60_000,
    });
  });

  it('lets a flag override its env var and ignores empty env values', () => {
    const config = loadConfig({ PORT: '9000', CITYSEG_INFERENCE_SIZE: '', HOST: '' }, { port: '9100', queueLimit: 3 });
    assert.equal(config.port, 9100);
    assert.equal(config.queueLimit, 3);
    assert.equal(config.inferenceSize, 1024);
    assert.equal(config.host, '127.0.0.1');
  });

  const invalid: [Record<string, string>, Record<string, string>, string][] = [
    [{ CITYSEG_MAX_PIXELS: 'lots' }, {}, "CITYSEG_MAX_PIXELS: expected an integer in 1..1000000000, got 'lots'"],
    [{ PORT: '70000' }, {}, "PORT: expected an integer in 0..65535, got '70000'"],
    [{ CITYSEG_WEIGHTS_MIRROR: 'ftp://mirror/' }, {}, "CITYSEG_WEIGHTS_MIRROR: expected an http(s) URL, got 'ftp://mirror/'"],
    [{ CITYSEG_DOWNLOAD_MAX_BYTES: 'huge' }, {}, "CITYSEG_DOWNLOAD_MAX_BYTES: expected a byte count such as 20971520 or 20MiB, got 'huge'"],
    [{}, { port: '-1' }, "--port: expected an integer in 0..65535, got '-1'"],
    [{ CITYSEG_INFERENCE_SIZE: '16' }, {}, "CITYSEG_INFERENCE_SIZE: expected an integer in 32..4096, got '16'"],
    [{ CITYSEG_ARCH: 'mobilenet_v3_large' }, {}, "CITYSEG_ARCH: expected one of fastseg_mobilev3_large, fastseg_mobilev3_small, lraspp_mobilenet_v3_large, lraspp_mobilenet_v3_small, got 'mobilenet_v3_large'"],
    [{ CITYSEG_BODY_LIMIT: '20 parsecs' }, {}, "CITYSEG_BODY_LIMIT: expected a byte count such as 20971520 or 20MiB, got '20 parsecs'"],
    [{ LOG_LEVEL: 'loud' }, {}, "LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got 'loud'"],
    [{}, { weights: ' ' }, '--weights: expected a non-empty value'],
  ];
  for (const [env, flags, message] of invalid) {
    it(`refuses ${JSON.stringify({ ...env, ...flags })} with a message naming the source`, () => {
      assert.throws(() => loadConfig(env, flags), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.message, message);
        return true;
      });
    });
  }

  it('gives every setting a distinct env var and flag', () => {
    const specs = Object.values(SETTINGS);
    assert.equal(new Set(specs.map((s) => s.env)).size, specs.length);
    assert.equal(new Set(specs.map((s) => s.flag)).size, specs.length);
  });
});

describe('threadsPerEngine', () => {
  it('shares the cores out among the workers unless threads is set', () => {
    assert.equal(threadsPerEngine({ threads: 0, workers: 0 }, 8), 8);
    assert.equal(threadsPerEngine({ threads: 0, workers: 2 }, 8), 4);
    assert.equal(threadsPerEngine({ threads: 0, workers: 3 }, 2), 1);
    assert.equal(threadsPerEngine({ threads: 5, workers: 2 }, 8), 5);
  });
});
