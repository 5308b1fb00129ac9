/**
 * The peers, timed in the same run on the same machine: PyTorch eager (Debian's python3-torch) and ONNX Runtime on
 * torchvision's own ONNX export of the same model, both including the final upsample and argmax. The export runs on
 * the onnxruntime-node cityseg itself uses (same version, same process), with the better of ORT's default session
 * settings and ours.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type * as Ort from 'onnxruntime-node';
import type { ArchName } from '../../model/loaded-model.js';
import { prepareNetwork } from '../../model/load-model.js';
import { loadOnnxEngine, onnxMissingMessage } from '../../model/engines/onnx-available.js';
import type { OnnxEngine } from '../../model/engines/onnx-engine.js';
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
  /** The export's rows: onnxruntime-node's version, and which session settings were faster (the row's figures). */
  onnxruntime?: string;
  session?: SessionChoice;
  /** The export's p50 with each session setting, measured in turn. */
  p50_ms_by_session?: Record<SessionChoice, number>;
}

/** ORT's default session options (threads aside), or the engine's own (model/engines/onnx-engine.ts). */
export type SessionChoice = 'ort-defaults' | 'cityseg';

/**
 * Our engine and ONNX Runtime on torchvision's export (on its faster session settings), run by run in turn, each
 * to a class map (ours: forward + upsample-argmax; the export ends in the argmax): on a machine shared with other work
 * both see the same load, which separate phases do not.
 */
export interface PairedRow {
  kind: 'paired';
  arch: string;
  num_classes: number;
  size: string;
  runs: number;
  /** The export's session settings: the faster of the two in its peer row. */
  export_session: SessionChoice;
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

/** Where the peers cannot run (no Python torch, no ONNX Runtime), say so instead of failing the whole benchmark. */
export async function peersAvailable(): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (!existsSync(PYTHON)) return { ok: false, reason: `${PYTHON} not found (install python3-torch and python3-torchvision)` };
  const onnx = await loadOnnxEngine();
  if ('error' in onnx) return { ok: false, reason: onnxMissingMessage(onnx.error) };
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

/** ONNX Runtime and our engine, imported only when the peers run: onnxruntime-node is an optional dependency. */
interface Runtime {
  ort: typeof Ort;
  OnnxEngine: typeof OnnxEngine;
  sessionOptions: (typeof import('../../model/engines/onnx-engine.js'))['sessionOptions'];
}

async function loadRuntime(): Promise<Runtime> {
  const [ort, engine] = await Promise.all([import('onnxruntime-node'), import('../../model/engines/onnx-engine.js')]);
  return { ort, OnnxEngine: engine.OnnxEngine, sessionOptions: engine.sessionOptions };
}

/** The export's session options for each choice; both use `threads` intra-op threads, as our engine does. */
function exportSessionOptions(rt: Runtime, choice: SessionChoice, threads: number): Ort.InferenceSession.SessionOptions {
  return choice === 'cityseg' ? rt.sessionOptions({ intraOpThreads: threads }) : { intraOpNumThreads: threads };
}

/** The export under each session choice, run by run in turn (the same load for both), two warm-up runs each. */
async function timeOrt(rt: Runtime, file: string, height: number, width: number, threads: number, runs: number): Promise<Record<SessionChoice, LatencySummary>> {
  const choices: SessionChoice[] = ['ort-defaults', 'cityseg'];
  const sessions = await Promise.all(choices.map((c) => rt.ort.InferenceSession.create(file, exportSessionOptions(rt, c, threads))));
  const input = new rt.ort.Tensor('float32', new Float32Array(3 * height * width).fill(0.5), [1, 3, height, width]);
  try {
    const times: number[][] = choices.map(() => []);
    for (let i = 0; i < runs + 2; i++) {
      for (const [k, session] of sessions.entries()) {
        const start = performance.now();
        const results = await session.run({ input });
        const ms = performance.now() - start;
        for (const tensor of Object.values(results)) tensor.dispose();
        if (i >= 2) times[k].push(ms);
      }
    }
    return { 'ort-defaults': summarize(times[0]), cityseg: summarize(times[1]) };
  } finally {
    input.dispose();
    await Promise.all(sessions.map((session) => session.release()));
  }
}

/** NHWC → NCHW of one image. */
function toNchw(data: Float32Array, height: number, width: number): Float32Array {
  const out = new Float32Array(data.length);
  const plane = height * width;
  for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) out[c * plane + p] = data[p * 3 + c];
  return out;
}

async function pairedWithExport(rt: Runtime, file: string, choice: SessionChoice, arch: string, numClasses: number, height: number, width: number, threads: number, runs: number): Promise<PairedRow> {
  const prepared = await prepareNetwork({ arch: arch as ArchName, numClasses });
  const engine = await rt.OnnxEngine.create(prepared.network, { intraOpThreads: threads });
  const session = await rt.ort.InferenceSession.create(file, exportSessionOptions(rt, choice, threads));
  try {
    const nhwc = syntheticInput(height, width);
    const ours = async () => upsampleArgmax(await engine.run({ data: nhwc, shape: [1, height, width, 3] }), height, width);
    const input = new rt.ort.Tensor('float32', toNchw(nhwc, height, width), [1, 3, height, width]);
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
      export_session: choice,
      ours_p50_ms: summarize(a).p50_ms,
      export_p50_ms: summarize(b).p50_ms,
      ratio_p50: Math.round(summarize(ratios.map((r) => r * 1000)).p50_ms) / 1000,
    };
  } finally {
    engine.dispose();
    await session.release();
  }
}

/**
 * PyTorch eager and ONNX Runtime on torchvision's export for each arch and size (scripts/bench_peers.py exports it
 * with Debian's torch), then our engine and the export run in turn (PairedRow). `versions.onnxruntime` is the
 * onnxruntime-node both ran on. Throws when ONNX Runtime or python3 is missing (see peersAvailable).
 */
export async function benchPeers(opts: { archs: string[]; numClasses: number; sizes: [number, number][]; threads: number; runs: number }): Promise<{ rows: (PeerRow | PairedRow)[]; versions: { torch: string; torchvision: string; onnxruntime: string } }> {
  const available = await peersAvailable();
  if (!available.ok) throw new Error(`peers: ${available.reason}`);
  const rt = await loadRuntime();
  const onnxruntime = rt.ort.env.versions.node ?? rt.ort.env.versions.common;
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
        const bySession = await timeOrt(rt, report.onnx[arch], h, w, opts.threads, opts.runs);
        // The peer at its best: a user of the export would pick the faster settings.
        const session: SessionChoice = bySession.cityseg.p50_ms < bySession['ort-defaults'].p50_ms ? 'cityseg' : 'ort-defaults';
        const p50_ms_by_session = { 'ort-defaults': bySession['ort-defaults'].p50_ms, cityseg: bySession.cityseg.p50_ms };
        rows.push({ kind: 'peer', engine: 'onnxruntime-torchvision-export', arch, num_classes: opts.numClasses, size: `${h}x${w}`, threads: opts.threads, onnxruntime, session, p50_ms_by_session, ...bySession[session] });
        rows.push(await pairedWithExport(rt, report.onnx[arch], session, arch, opts.numClasses, h, w, opts.threads, opts.runs));
      }
    }
    return { rows, versions: { torch: report.torch, torchvision: report.torchvision, onnxruntime } };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
