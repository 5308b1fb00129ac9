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

export async function benchPeers(opts: { archs: string[]; numClasses: number; sizes: [number, number][]; threads: number; runs: number }): Promise<{ rows: PeerRow[]; versions: { torch: string; torchvision: string } }> {
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
    const rows: PeerRow[] = report.rows.map((r) => ({
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
      }
    }
    return { rows, versions: { torch: report.torch, torchvision: report.torchvision } };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
