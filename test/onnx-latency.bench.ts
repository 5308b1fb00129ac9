/**
 * Model-only latency of OnnxEngine against TfjsEngine (wasm): lraspp_mobilenet_v3_large, 19 classes, one
 * 512x1024 image, ONNX Runtime on 2 intra-op threads. Reports p50/min of RUNS timed runs after WARMUP; asserts
 * nothing (timings depend on the machine). Run: node --import tsx test/onnx-latency.bench.ts [onnx|onnx-1-thread|tfjs|all]
 */
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { performance } from 'node:perf_hooks';
import type { InferenceEngine } from '../model/engines/engine.js';
import { OnnxEngine } from '../model/engines/onnx-engine.js';
import { TfjsEngine } from '../model/engines/tfjs-engine.js';
import { randomisedNetwork, seededInput } from './onnx-test-networks.js';

const WARMUP = 2;
const RUNS = 10;
const INPUT_SHAPE = [1, 512, 1024, 3];
const INTRA_OP_THREADS = 2;

async function timeEngine(engine: InferenceEngine): Promise<{ p50: number; min: number }> {
  const input = seededInput(INPUT_SHAPE, 1);
  for (let i = 0; i < WARMUP; i++) await engine.run(input);
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    await engine.run(input);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(times.length / 2)], min: times[0] };
}

const network = () => randomisedNetwork('lraspp_mobilenet_v3_large', 19, 1);

/** name → engine and the threads it computes on (tfjs-backend-wasm runs single-threaded under Node). */
const ENGINES: Record<string, () => Promise<{ engine: InferenceEngine; threads: number }>> = {
  onnx: async () => ({ engine: await OnnxEngine.create(network(), { intraOpThreads: INTRA_OP_THREADS }), threads: INTRA_OP_THREADS }),
  'onnx-1-thread': async () => ({ engine: await OnnxEngine.create(network(), { intraOpThreads: 1 }), threads: 1 }),
  tfjs: async () => ({ engine: await TfjsEngine.create(network(), 'wasm'), threads: getThreadsCount() }),
};

const which = process.argv[2] ?? 'all';
for (const [name, create] of Object.entries(ENGINES)) {
  if (which !== 'all' && which !== name) continue;
  const { engine, threads } = await create();
  const { p50, min } = await timeEngine(engine);
  console.log(`${name} (${engine.backend}, ${threads} thread(s)): p50 ${p50.toFixed(1)} ms, min ${min.toFixed(1)} ms over ${RUNS} runs`);
  engine.dispose();
}
