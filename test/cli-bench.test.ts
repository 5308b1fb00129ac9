/** `cityseg bench`: its --json contract (used by outside checks) and the ratios it derives. Timings are not asserted. */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { targetOf, targetRatios } from '../cli/commands/bench.js';
import { mixedCellShare, smoothLogits } from '../cli/bench/smooth-logits.js';
import { percentile, summarize } from '../cli/bench/stats.js';
import { parseServerTiming, REQUEST_STAGES, serverTimingHeader } from '../segmentation/stages.js';
import { runCli, tempDir } from './cli-helpers.js';
import { testVideo } from './video-helpers.js';

interface BenchJson {
  machine: { cores: number; node: string };
  results: Record<string, unknown>[];
  ratios: Record<string, number | null>;
}

describe('cityseg bench', () => {
  test('--json --model-only for one case prints exactly that row, for the default engine', async () => {
    const run = await runCli(['bench', '--json', '--model-only', '--arch', 'lraspp_mobilenet_v3_small', '--num-classes', '19', '--size', '64x128', '--runs', '3', '--warmup', '1']);
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout) as BenchJson;
    assert.equal(report.results.length, 1);
    const row = report.results[0];
    assert.equal(row.kind, 'model-only');
    assert.equal(row.engine, 'onnx');
    assert.equal(row.arch, 'lraspp_mobilenet_v3_small');
    assert.equal(row.size, '64x128');
    assert.equal(row.runs, 3);
    for (const field of ['p50_ms', 'p95_ms', 'mean_ms', 'throughput_per_s', 'forward_p50_ms', 'upsample_argmax_p50_ms', 'smooth_p50_ms', 'smooth_upsample_argmax_p50_ms']) {
      assert.ok(typeof row[field] === 'number' && (row[field] as number) > 0, field);
    }
    assert.ok((row.p95_ms as number) >= (row.p50_ms as number));
    assert.match(row.weights as string, /^seeded-init:\d+$/);
    assert.ok(typeof row.load_1m === 'number' && row.load_1m >= 0);
    const mixed = row.mixed_cells as { noisy: number; smooth: number };
    assert.ok(mixed.noisy >= 0 && mixed.noisy <= 1 && mixed.smooth >= 0 && mixed.smooth <= 1);
    assert.equal(report.machine.node, process.version);
  });

  test('--video prints the video row: the frames segmented, frames/s beside model-only, each stage per frame, CPU per frame and peak RSS', async () => {
    const { dir, cleanup } = await tempDir('bench-video');
    try {
      const video = path.join(dir, 'clip.mp4');
      await testVideo(video, { width: 96, height: 64, rate: 10, frames: 12 });
      const run = await runCli(['bench', '--json', '--video', video, '--video-size', '64', '--every', '3', '--arch', 'lraspp_mobilenet_v3_small', '--num-classes', '19']);
      assert.equal(run.code, 0, run.stderr);
      const [row] = (JSON.parse(run.stdout) as BenchJson).results;
      assert.equal(row.kind, 'video');
      assert.equal(row.frames, 4);
      assert.equal(row.inference_size, '64x43');
      assert.match(row.video as string, /^96x64 h264 10\/1 fps, 12 frames, 1 frame in 3 segmented$/);
      for (const field of ['frames_per_s', 'model_only_per_s', 'share_of_model_only', 'peak_rss_mb']) assert.ok((row[field] as number) > 0, field);
      assert.deepEqual(Object.keys(row.per_frame_ms as object), ['decode_wait', 'preprocess', 'forward', 'postprocess', 'render', 'encode_wait']);
      const cpu = row.cpu_ms_per_frame as { node: number; ffmpeg: number };
      // The engine's passes alone take CPU; ffmpeg decoded 12 frames and encoded 4.
      assert.ok(cpu.node > 0 && cpu.ffmpeg > 0, JSON.stringify(cpu));
      assert.deepEqual(await readdir(dir), ['clip.mp4']);
    } finally {
      await cleanup();
    }
  });

  test('HTTP rows come from a real server on 127.0.0.1, one per concurrency, without errors', async () => {
    const run = await runCli(['bench', '--json', '--http-only', '--arch', 'lraspp_mobilenet_v3_small', '--http-size', '48x96', '--concurrency', '1,2', '--requests', '4']);
    assert.equal(run.code, 0, run.stderr);
    const rows = (JSON.parse(run.stdout) as BenchJson).results;
    assert.deepEqual(rows.map((r) => [r.kind, r.concurrency, r.size, r.errors, r.weights]), [['http', 1, '48x96', 0, 'none'], ['http', 2, '48x96', 0, 'none']]);
    for (const r of rows) {
      assert.ok((r.requests as number) >= 4 && (r.rss_mb as number) > 0 && (r.throughput_per_s as number) > 0);
      assert.ok(typeof r.load_1m === 'number' && r.load_1m >= 0);
      // Every stage of a whole pass, as the server reported it, in the stages' order.
      assert.deepEqual(Object.keys(r.stages_p50_ms as object), REQUEST_STAGES.map((s) => s.name));
      for (const ms of Object.values(r.stages_p50_ms as Record<string, number>)) assert.ok(ms >= 0);
    }
  });

  test('ratios divide our rows by the peers measured in the same run', () => {
    const ratios = targetRatios([
      { kind: 'model-only', engine: 'onnx', backend: 'onnxruntime-cpu', arch: 'lraspp_mobilenet_v3_large', num_classes: 19, size: '512x1024', batch: 1, weights: 'seeded-init:0', runs: 5, p50_ms: 80, p95_ms: 90, mean_ms: 82, throughput_per_s: 12.5, smooth_p50_ms: 60 },
      { kind: 'peer', engine: 'onnxruntime-torchvision-export', arch: 'lraspp_mobilenet_v3_large', num_classes: 19, size: '512x1024', threads: 2, runs: 5, p50_ms: 100, p95_ms: 110, mean_ms: 101 },
      { kind: 'peer', engine: 'pytorch-eager', arch: 'lraspp_mobilenet_v3_large', num_classes: 19, size: '512x1024', threads: 2, runs: 5, p50_ms: 250, p95_ms: 260, mean_ms: 251 },
      { kind: 'http', engine: 'onnx', arch: 'lraspp_mobilenet_v3_large', size: '512x1024', concurrency: 4, requests: 16, errors: 0, p50_ms: 300, p95_ms: 400, throughput_per_s: 10, rss_mb: 500, weights: 'none', stages_p50_ms: {}, load_1m: 1 },
    ]);
    assert.equal(ratios['onnx:lraspp_mobilenet_v3_large:512x1024 / onnxruntime-torchvision-export'], 0.8);
    assert.equal(ratios['onnx:lraspp_mobilenet_v3_large:512x1024 smooth logits / onnxruntime-torchvision-export'], 0.6);
    assert.equal(targetOf('onnx:lraspp_mobilenet_v3_large:512x1024 smooth logits / onnxruntime-torchvision-export'), '≤ 0.8');
    assert.equal(ratios['onnx:lraspp_mobilenet_v3_large:512x1024 / pytorch-eager'], 0.32);
    assert.equal(ratios['onnx: http throughput c=4 / model-only throughput (lraspp_mobilenet_v3_large 512x1024)'], 0.8);
    const paired = targetRatios([{ kind: 'paired', arch: 'lraspp_mobilenet_v3_large', num_classes: 19, size: '512x1024', runs: 5, export_session: 'ort-defaults', ours_p50_ms: 80, export_p50_ms: 100, ratio_p50: 0.79 }]);
    const key = 'onnx:lraspp_mobilenet_v3_large:512x1024 / onnxruntime-torchvision-export (interleaved, export on its faster session settings)';
    assert.deepEqual(paired, { [key]: 0.79 });
    assert.equal(targetOf(key), '≤ 0.8');
  });

  test('targets are the bench bounds, for the default engine on Large', () => {
    assert.equal(targetOf('onnx:lraspp_mobilenet_v3_large:512x1024 / onnxruntime-torchvision-export'), '≤ 0.8');
    assert.equal(targetOf('onnx:lraspp_mobilenet_v3_large:1024x2048 / pytorch-eager'), '≤ 0.35');
    assert.equal(targetOf('tfjs:lraspp_mobilenet_v3_large:1024x2048 / pytorch-eager'), '');
    assert.equal(targetOf('onnx: http p50 c=1 / model-only p50 (lraspp_mobilenet_v3_large 1024x2048)'), '≤ 1.15');
    assert.equal(targetOf('onnx: http throughput c=4 / model-only throughput (lraspp_mobilenet_v3_large 1024x2048)'), '≥ 0.9');
  });

  test('Server-Timing carries the stages in order and reads back', () => {
    const header = serverTimingHeader({ decodeMs: 14.234, queueMs: 0.5, inferenceMs: 500, postprocessMs: 20, encodeMs: 3 });
    assert.equal(header, 'queue;dur=0.50, decode;dur=14.23, forward;dur=500.00, upsample-argmax;dur=20.00, encode;dur=3.00');
    assert.deepEqual(parseServerTiming(`${header}, cache;desc="x";dur=1`), { queue: 0.5, decode: 14.23, forward: 500, 'upsample-argmax': 20, encode: 3 });
  });

  test('the smooth logits change class only at region boundaries; noisy ones everywhere', () => {
    const smooth = smoothLogits(64, 128, 19);
    assert.deepEqual(smooth.shape, [1, 64, 128, 19]);
    const share = mixedCellShare(smooth);
    assert.ok(share > 0 && share < 0.15, String(share));
    const noisy = { data: Float32Array.from({ length: 16 * 16 * 19 }, (_, i) => Math.sin(i * 12.9898) * 43758.5453 % 1), shape: [1, 16, 16, 19] };
    assert.ok(mixedCellShare(noisy) > 0.5);
  });

  test('percentiles are nearest-rank', () => {
    const values = Array.from({ length: 20 }, (_, i) => i + 1);
    assert.equal(percentile(values, 0.5), 10);
    assert.equal(percentile(values, 0.95), 19);
    assert.deepEqual(summarize([3, 1, 2]), { runs: 3, p50_ms: 2, p95_ms: 3, mean_ms: 2 });
  });
});
