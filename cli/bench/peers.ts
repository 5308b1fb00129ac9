/**
 * The peers, timed in the same run on the same machine: PyTorch eager (Debian's python3-torch) and ONNX Runtime on
 * torchvision's own ONNX export of the same model, both including the final upsample and argmax.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as ort from 'onnxruntime-node';
import type { ArchName } from '../../model/loaded-model.js';
import { prepareNetwork } from '../../model/load-model.js';
import { OnnxEngine, sessionOptions } from '../../model/engines/onnx-engine.js';
import { upsampleArgmax } from '../../segmentation/postprocess.js';
import { syntheticInput } from './model-only.js';
import { summarize, type LatencySummary } from './stats.js';

const PYTHON = process.env.CITYSEG_PYTHON ?? '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('../../../scripts/bench_peers.py', import.meta.url));

export interface PeerRow extends LatencySummary {
  kind: 'peer';
  engine: 'pytorch-eager' | 'onnxruntime-torchvision-export';
  arch: string;
  num_classes: number;
  size: string;
  threads: number;
}

/**
 * Our engine and ONNX Runtime on torchvision's export, run by run in turn with the same session settings (ours), each
 * to a class map (ours: forward + upsample-argmax; the export ends in the argmax): on a machine shared with other work
 * both see the same load, which separate phases do not.
 */
export interface PairedRow {
  kind: 'paired';
  arch: string;
  num_classes: number;
  size: string;
  runs: number;
  ours_p50_ms: number;
  export_p50_ms: number;
  /** Median of the per-pair ratios ours / export. */
  ratio_p50: number;
}

interface PythonReport {
  torch: string;
  torchvision: string;
  rows: { engine: 'pytorch-eager'; arch: string; size: string; threads: number; runs: number; p50_ms: number; p95_ms: number; mean_ms: number }[];
  onnx: Record<string, string>;
}

/** Where the peers cannot run (no Python torch), say so instead of failing the whole benchmark. */
export function peersAvailable(): { ok: true } | { ok: false; reason: string } {
  if (!existsSync(PYTHON)) return { ok: false, reason: `${PYTHON} not found (install python3-torch and python3-torchvision)` };
  // The script lives in the source tree (scripts/), not in the published package.
  const script = scriptPath();
  if (!script) return { ok: false, reason: 'scripts/bench_peers.py not found' };
  return { ok: true };
}

function scriptPath(): string | undefined {
  // Compiled to dist/cli/bench: three levels up is the repo; from source (tsx) it is two.
  const candidates = [SCRIPT, fileURLToPath(new URL('../../scripts/bench_peers.py', import.meta.url))];
  return candidates.find((p) => existsSync(p));
}

async function timeOrt(file: string, height: number, width: number, threads: number, runs: number): Promise<LatencySummary> {
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  try {
    const input = new ort.Tensor('float32', new Float32Array(3 * height * width).fill(0.5), [1, 3, height, width]);
    const times: number[] = [];
    for (let i = 0; i < runs + 2; i++) {
      const start = performance.now();
      await session.run({ input });
      if (i >= 2) times.push(performance.now() - start);
    }
    return summarize(times);
  } finally {
    await session.release();
  }
}

/** NHWC → NCHW of one image. */
function toNchw(data: Float32Array, height: number, width: number): Float32Array {
  const out = new Float32Array(data.length);
  const plane = height * width;
  for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) out[c * plane + p] = data[p * 3 + c];
  return out;
}

async function pairedWithExport(file: string, arch: string, numClasses: number, height: number, width: number, threads: number, runs: number): Promise<PairedRow> {
  const prepared = await prepareNetwork({ arch: arch as ArchName, numClasses });
  const engine = await OnnxEngine.create(prepared.network, { intraOpThreads: threads });
  const session = await ort.InferenceSession.create(file, sessionOptions({ intraOpThreads: threads }));
  try {
    const nhwc = syntheticInput(height, width);
    const ours = async () => upsampleArgmax(await engine.run({ data: nhwc, shape: [1, height, width, 3] }), height, width);
    const input = new ort.Tensor('float32', toNchw(nhwc, height, width), [1, 3, height, width]);
    // The export ends in the argmax (scripts/bench_peers.py).
    const theirs = async () => {
      const results = await session.run({ input });
      for (const tensor of Object.values(results)) tensor.dispose();
    };
    const time = async (fn: () => Promise<unknown>) => {
      const start = performance.now();
      await fn();
      return performance.now() - start;
    };
    await ours();
    await theirs();
    const a: number[] = [];
    const b: number[] = [];
    const ratios: number[] = [];
    for (let i = 0; i < runs; i++) {
      a.push(await time(ours));
      b.push(await time(theirs));
      ratios.push(a[i] / b[i]);
    }
    return {
      kind: 'paired',
      arch,
      num_classes: numClasses,
      size: `${height}x${width}`,
      runs,
      ours_p50_ms: summarize(a).p50_ms,
      export_p50_ms: summarize(b).p50_ms,
      ratio_p50: Math.round(summarize(ratios.map((r) => r * 1000)).p50_ms) / 1000,
    };
  } finally {
    engine.dispose();
    await session.release();
  }
}

export async function benchPeers(opts: { archs: string[]; numClasses: number; sizes: [number, number][]; threads: number; runs: number }): Promise<{ rows: (PeerRow | PairedRow)[]; versions: { torch: string; torchvision: string } }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cityseg-peers-'));
  try {
    const sizes = opts.sizes.map(([h, w]) => `${h}x${w}`);
    const { stdout } = await promisify(execFile)(PYTHON, [
      scriptPath() ?? SCRIPT,
      '--archs', opts.archs.join(','),
      '--num-classes', String(opts.numClasses),
      '--sizes', sizes.join(','),
      '--threads', String(opts.threads),
      '--runs', String(opts.runs),
      '--export-dir', dir,
    ], { maxBuffer: 16 << 20 });
    const report = JSON.parse(stdout) as PythonReport;
    const rows: (PeerRow | PairedRow)[] = report.rows.map((r) => ({
      kind: 'peer',
      engine: r.engine,
      arch: r.arch,
      num_classes: opts.numClasses,
      size: r.size,
      threads: r.threads,
      runs: r.runs,
      p50_ms: Math.round(r.p50_ms * 10) / 10,
      p95_ms: Math.round(r.p95_ms * 10) / 10,
      mean_ms: Math.round(r.mean_ms * 10) / 10,
    }));
    for (const arch of opts.archs) {
      for (const [h, w] of opts.sizes) {
        const summary = await timeOrt(report.onnx[arch], h, w, opts.threads, opts.runs);
        rows.push({ kind: 'peer', engine: 'onnxruntime-torchvision-export', arch, num_classes: opts.numClasses, size: `${h}x${w}`, threads: opts.threads, ...summary });
        rows.push(await pairedWithExport(report.onnx[arch], arch, opts.numClasses, h, w, opts.threads, opts.runs));
      }
    }
    return { rows, versions: { torch: report.torch, torchvision: report.torchvision } };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
