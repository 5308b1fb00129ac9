/** `cityseg bench`: model-only latency per engine, end-to-end HTTP latency/throughput, and the peers. */
import os from 'node:os';
import { Command, Option } from 'commander';
import type { EngineName } from '../../model/engines/engine.js';
import { loadOnnxEngine, onnxFallbackMessage } from '../../model/engines/onnx-available.js';
import type { ArchName } from '../../model/loaded-model.js';
import { untrainedNumClasses } from '../../model/descriptor.js';
import { benchHttp, benchSoak, type HttpRow, type SoakRow } from '../bench/http.js';
import { benchInt8, formatInt8Row, type Int8Row } from '../bench/int8.js';
import { benchModelOnly, type ModelOnlyRow } from '../bench/model-only.js';
import { benchVideo, type VideoRow } from '../bench/video.js';
import { benchPeers, peersAvailable, type PairedRow, type PeerRow } from '../bench/peers.js';
import { loadAverage, parseSize } from '../bench/stats.js';
import { REQUEST_STAGES } from '../../segmentation/stages.js';
import { SETTINGS } from '../../server/config.js';
import { parseArch, parseNonNegativeInt, parsePositiveInt, settingOption } from '../options.js';

/** A row, with the 1-minute load average when it finished (the machine may be shared with other work). */
type Row = (ModelOnlyRow | HttpRow | PeerRow | PairedRow | SoakRow | Int8Row | VideoRow) & { load_1m?: number };

const withLoad = <T extends object>(row: T): T & { load_1m: number } => ({ ...row, load_1m: loadAverage() });

interface BenchFlags {
  json?: boolean;
  modelOnly?: boolean;
  httpOnly?: boolean;
  arch?: ArchName[];
  numClasses?: number;
  size?: string[];
  engine: string;
  runs?: number;
  warmup: number;
  peers?: boolean;
  concurrency: string;
  requests: number;
  workers?: number;
  threads?: number;
  maxBatch?: number;
  soak: number;
  soakSize: string;
  httpSize: string;
  int8?: string;
  video?: string;
  videoSize: number;
  every?: number;
}

// The default segmentation model (fastseg) beside torchvision's LR-ASPP.
const DEFAULT_ARCHS: ArchName[] = ['fastseg_mobilev3_large', 'lraspp_mobilenet_v3_large', 'lraspp_mobilenet_v3_small'];
const DEFAULT_SIZES = ['512x1024', '1024x2048'];
const ENGINES: EngineName[] = ['onnx', 'tfjs'];

function collect<T>(parse: (v: string) => T) {
  return (value: string, previous: T[] | undefined): T[] => [...(previous ?? []), parse(value)];
}

export function machineDescription() {
  const cpus = os.cpus();
  return { cpu: cpus[0]?.model ?? 'unknown', cores: os.availableParallelism(), memory_gb: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.arch()}` };
}

/**
 * The runtimes a run measured: onnxruntime-node's version (or why it is missing, with the fix), and after --peers
 * torch's and torchvision's.
 */
async function runtimeVersions(): Promise<Record<string, string>> {
  const onnx = await loadOnnxEngine();
  if ('error' in onnx) return { onnxruntime_missing: onnxFallbackMessage(onnx.error) };
  const { env } = await import('onnxruntime-node');
  return { onnxruntime: env.versions.node ?? env.versions.common };
}

const pct = (share: number) => `${Math.round(share * 1000) / 10}%`;

function ratio(a: number | undefined, b: number | undefined): number | null {
  return a && b ? Math.round((a / b) * 1000) / 1000 : null;
}

/** The ratios that have targets, computed from rows measured in this run. */
export function targetRatios(rows: Row[]): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  const modelRows = rows.filter((r): r is ModelOnlyRow => r.kind === 'model-only');
  const peerRows = rows.filter((r): r is PeerRow => r.kind === 'peer');
  const httpRows = rows.filter((r): r is HttpRow => r.kind === 'http');
  // The default engine's rows come first for each case (see run order).
  for (const m of modelRows) {
    const key = `${m.engine}:${m.arch}:${m.size}`;
    const ort = peerRows.find((p) => p.engine === 'onnxruntime-torchvision-export' && p.arch === m.arch && p.size === m.size);
    const torch = peerRows.find((p) => p.engine === 'pytorch-eager' && p.arch === m.arch && p.size === m.size);
    if (ort) out[`${key} / onnxruntime-torchvision-export`] = ratio(m.p50_ms, ort.p50_ms);
    // The same pass on smooth trained-like logits, whose upsample-argmax is cheaper (few mixed cells).
    if (ort && m.smooth_p50_ms !== undefined) out[`${key} smooth logits / onnxruntime-torchvision-export`] = ratio(m.smooth_p50_ms, ort.p50_ms);
    if (torch) out[`${key} / pytorch-eager`] = ratio(m.p50_ms, torch.p50_ms);
  }
  for (const p of rows.filter((r): r is PairedRow => r.kind === 'paired')) {
    out[`onnx:${p.arch}:${p.size} / onnxruntime-torchvision-export (interleaved, export on its faster session settings)`] = p.ratio_p50;
  }
  for (const soak of rows.filter((r): r is SoakRow => r.kind === 'soak')) {
    out[`rss growth over ${soak.requests} requests (${soak.engine})`] = Math.round(soak.rss_growth_pct * 10) / 1000;
  }
  for (const h of httpRows) {
    const model = modelRows.find((m) => m.arch === h.arch && m.size === h.size && (h.engine === 'auto' || m.engine === h.engine));
    if (!model) continue;
    if (h.concurrency === 1) out[`${h.engine}: http p50 c=1 / model-only p50 (${h.arch} ${h.size})`] = ratio(h.p50_ms, model.p50_ms);
    if (h.concurrency === 4) out[`${h.engine}: http throughput c=4 / model-only throughput (${h.arch} ${h.size})`] = ratio(h.throughput_per_s, model.throughput_per_s);
  }
  return out;
}

/** Issue #15's bound on a ratio (by its key, as targetRatios names it), as text, or '' when it has none. */
export function targetOf(key: string): string {
  if (key.includes('http p50 c=1')) return key.includes('x2048)') ? '≤ 1.15' : '';
  if (key.includes('http throughput c=4')) return '≥ 0.9';
  if (!key.startsWith('onnx:lraspp_mobilenet_v3_large:')) return '';
  if (key.includes('/ onnxruntime-torchvision-export')) return '≤ 0.8';
  if (key.endsWith('/ pytorch-eager')) return '≤ 0.35';
  return '';
}

function stageLine(stages: Partial<Record<string, number>>): string {
  return REQUEST_STAGES.filter((s) => stages[s.name] !== undefined).map((s) => `${s.name} ${stages[s.name]}`).join(', ');
}

function printTable(rows: Row[], ratios: Record<string, number | null>): void {
  const lines = rows.flatMap((r) => {
    const load = r.load_1m === undefined ? '' : `  load ${r.load_1m}`;
    if (r.kind === 'int8') return `${formatInt8Row(r)}${load}`;
    if (r.kind === 'video') {
      const ms = r.per_frame_ms;
      return [
        `video       ${r.engine.padEnd(8)} ${r.arch.padEnd(27)} ${r.inference_size.padEnd(10)} ${r.frames_per_s} frames/s = ${pct(r.share_of_model_only)} of model-only ${r.model_only_per_s} img/s  peak RSS ${r.peak_rss_mb} MB  (${r.video})${load}`,
        `              per frame (ms): decode wait ${ms.decode_wait}, preprocess ${ms.preprocess}, forward ${ms.forward}, postprocess ${ms.postprocess}, overlay+stats ${ms.render}, encode wait ${ms.encode_wait}`,
        `              CPU per frame (ms, all threads): node ${r.cpu_ms_per_frame.node}${r.cpu_ms_per_frame.ffmpeg === undefined ? '' : `, ffmpeg ${r.cpu_ms_per_frame.ffmpeg}`}`,
      ];
    }
    if (r.kind === 'soak') return `soak        ${r.engine.padEnd(8)} ${r.arch.padEnd(27)} ${r.size.padEnd(10)} ${r.requests} requests at c=4, errors ${r.errors}: RSS ${r.rss_after_warmup_mb} -> ${r.rss_end_mb} MB (${r.rss_growth_pct}%), peak ${r.peak_rss_mb} MB${load}`;
    if (r.kind === 'http') {
      return [
        `http        ${r.engine.padEnd(8)} ${r.arch.padEnd(27)} ${r.size.padEnd(10)} c=${String(r.concurrency).padEnd(3)} p50 ${String(r.p50_ms).padStart(8)} ms  p95 ${String(r.p95_ms).padStart(8)} ms  ${r.throughput_per_s} req/s  rss ${r.rss_mb} MB  errors ${r.errors}  weights ${r.weights}${load}`,
        `              stages p50 (ms): ${stageLine(r.stages_p50_ms)}`,
      ];
    }
    if (r.kind === 'paired') return `paired      ${'onnx vs torchvision export'.padEnd(31)} ${r.arch.padEnd(27)} ${r.size.padEnd(10)} interleaved, export on ${r.export_session} session: ours p50 ${r.ours_p50_ms} ms, export p50 ${r.export_p50_ms} ms, ratio p50 ${r.ratio_p50}${load}`;
    if (r.kind === 'peer') {
      const session = r.session ? `, ${r.session} session (p50 ${Object.entries(r.p50_ms_by_session ?? {}).map(([k, v]) => `${k} ${v}`).join(' / ')} ms)` : '';
      return `peer        ${r.engine.padEnd(31)} ${r.arch.padEnd(27)} ${r.size.padEnd(10)} p50 ${String(r.p50_ms).padStart(8)} ms  p95 ${String(r.p95_ms).padStart(8)} ms  (${r.threads} threads${session})${load}`;
    }
    const main = `model-only  ${`${r.engine}/${r.backend}`.padEnd(31)} ${r.arch.padEnd(27)} ${r.size.padEnd(10)} p50 ${String(r.p50_ms).padStart(8)} ms  p95 ${String(r.p95_ms).padStart(8)} ms  ${r.throughput_per_s} img/s  weights ${r.weights}${load}`;
    if (r.smooth_p50_ms === undefined || !r.mixed_cells) return main;
    return [
      main,
      `              forward ${r.forward_p50_ms} ms + upsample-argmax ${r.upsample_argmax_p50_ms} ms (noisy logits, ${pct(r.mixed_cells.noisy)} mixed cells); ` +
        `smooth trained-like logits: p50 ${r.smooth_p50_ms} ms, upsample-argmax ${r.smooth_upsample_argmax_p50_ms} ms (${pct(r.mixed_cells.smooth)} mixed cells)`,
    ];
  });
  process.stdout.write(`${lines.join('\n')}\n`);
  const entries = Object.entries(ratios);
  const bound = (k: string) => (targetOf(k) ? `  (target ${targetOf(k)})` : '');
  if (entries.length) process.stdout.write(`\nratios:\n${entries.map(([k, v]) => `  ${k}: ${v ?? 'n/a'}${bound(k)}`).join('\n')}\n`);
}

async function run(flags: BenchFlags): Promise<void> {
  const log = (msg: string) => !flags.json && process.stderr.write(`${msg}\n`);
  // Without the flag, the untrained model's class count (the peers' script needs a number).
  const numClasses = flags.numClasses ?? untrainedNumClasses('segmentation');
  const archs = flags.arch ?? DEFAULT_ARCHS;
  const sizes = (flags.size ?? DEFAULT_SIZES).map(parseSize);
  const engines: (EngineName | 'auto')[] = flags.engine === 'all' ? ENGINES : [flags.engine as EngineName | 'auto'];
  const rows: Row[] = [];
  const versions = await runtimeVersions();
  if (versions.onnxruntime_missing) log(`warning: ${versions.onnxruntime_missing}`);
  if (flags.video) {
    log(`video ${flags.video} at size ${flags.videoSize}...`);
    rows.push(withLoad(await benchVideo({ file: flags.video, engine: engines[0], arch: archs[0], numClasses, size: flags.videoSize, every: flags.every })));
    if (flags.json) process.stdout.write(`${JSON.stringify({ machine: machineDescription(), versions, results: rows }, null, 2)}\n`);
    else printTable(rows, {});
    return;
  }
  if (!flags.httpOnly) {
    for (const arch of archs) {
      for (const [height, width] of sizes) {
        for (const engine of engines) {
          const runs = flags.runs ?? (height * width > 1e6 ? 5 : 10);
          log(`model-only ${engine} ${arch} ${height}x${width} (${runs} runs)...`);
          try {
            rows.push(withLoad(await benchModelOnly({ engine, arch, numClasses, height, width, runs, warmup: flags.warmup })));
          } catch (err) {
            if (engines.length === 1) throw err;
            log(`  skipped: ${(err as Error).message}`);
          }
        }
      }
    }
  }
  if (flags.int8 && !flags.httpOnly) {
    const segArchs = archs.filter((a) => a.startsWith('lraspp_'));
    rows.push(...(await benchInt8({ archs: segArchs, numClasses, sizes, imagesDir: flags.int8, runs: flags.runs, warmup: flags.warmup, log })).map(withLoad));
  }
  if (flags.peers && !flags.httpOnly) {
    const available = await peersAvailable();
    if (!available.ok) log(`peers skipped: ${available.reason}`);
    else {
      log(`peers: PyTorch eager, and ONNX Runtime ${versions.onnxruntime} on torchvision's export...`);
      const segArchs = archs.filter((a) => a.startsWith('lraspp_'));
      const peers = await benchPeers({ archs: segArchs, numClasses, sizes, threads: os.availableParallelism(), runs: flags.runs ?? 5 });
      Object.assign(versions, peers.versions);
      rows.push(...peers.rows.map(withLoad));
    }
  }
  if (!flags.modelOnly) {
    const concurrencies = flags.concurrency.split(',').map((c) => parsePositiveInt(c));
    const [httpHeight, httpWidth] = parseSize(flags.httpSize);
    for (const engine of engines) {
      log(`http ${engine} ${archs[0]} ${flags.httpSize} JPEG → labelIds at c=${concurrencies.join(',')}...`);
      const env: Record<string, string> = {};
      if (flags.threads !== undefined) env.CITYSEG_THREADS = String(flags.threads);
      if (flags.maxBatch !== undefined) env.CITYSEG_MAX_BATCH = String(flags.maxBatch);
      rows.push(...(await benchHttp({ arch: archs[0], engine, workers: flags.workers, concurrencies, requests: flags.requests, height: httpHeight, width: httpWidth, env })));
      if (flags.soak > 0) {
        const [height, width] = parseSize(flags.soakSize);
        log(`soak ${engine}: ${flags.soak} requests of a ${flags.soakSize} JPEG at c=4...`);
        rows.push(withLoad(await benchSoak({ arch: archs[0], engine, workers: flags.workers, requests: flags.soak, height, width, env })));
      }
    }
  }
  const ratios = targetRatios(rows);
  if (flags.json) process.stdout.write(`${JSON.stringify({ machine: machineDescription(), versions, results: rows, ratios }, null, 2)}\n`);
  else {
    printTable(rows, ratios);
    process.stdout.write(`\n${Object.entries(versions).map(([k, v]) => `${k} ${v}`).join(', ')}\n`);
  }
}

export function benchCommand(): Command {
  return new Command('bench')
    .option('--json', 'print one JSON object: { machine, results: [rows], ratios }')
    .option('--model-only', 'only the model-only rows (no HTTP server)')
    .option('--http-only', 'only the HTTP rows')
    .option('--arch <name>', 'architecture (repeatable; default: fastseg large, lraspp large and small)', collect(parseArch))
    // The servers it starts read their settings from the variables it sets, never from the caller's.
    .addOption(settingOption('numClasses', { valueName: 'n', env: false }))
    .option('--size <HxW>', 'input size (repeatable; default 512x1024 and 1024x2048)', collect((v: string) => (parseSize(v), v)))
    .addOption(new Option('--engine <name>', 'engine to measure; all = every engine that loads').choices(['auto', 'tfjs', 'onnx', 'all']).default('auto'))
    .option('--runs <n>', 'timed runs per case (default 10, 5 at 1024x2048)', parsePositiveInt)
    .option('--warmup <n>', 'untimed runs first', parsePositiveInt, 2)
    .option('--peers', 'also time PyTorch eager and ONNX Runtime on torchvision\'s own export (needs /usr/bin/python3 with torch)')
    .option('--int8 <dir>', 'also int8 beside fp32 (onnx): p50, and agreement with fp32 on the street images in dir (README "INT8 (opt-in)")')
    .option('--video <file>', 'only the video row: FILE through decode → segmentation → overlay → H.264 encode, frames/s beside model-only at the same size, per-stage ms, peak RSS')
    .option('--video-size <n>', 'inference long side of the video row', parsePositiveInt, 1024)
    .option('--every <n>', 'video row: segment every n-th frame (all are decoded)', parsePositiveInt)
    .option('--concurrency <list>', 'HTTP concurrency levels', '1,4')
    .option('--requests <n>', 'HTTP requests per concurrency level', parsePositiveInt, 16)
    .option('--http-size <HxW>', 'size of the JPEG the HTTP rows post', '1024x2048')
    .option('--soak <n>', 'after the HTTP rows, send n more requests at c=4 and report RSS growth (0 = skip)', parseNonNegativeInt, 0)
    .option('--soak-size <HxW>', 'image size for the soak', '512x1024')
    .addOption(settingOption('workers', { valueName: 'n', env: false, fallback: null, help: `HTTP rows: ${SETTINGS.workers.help} (default: the server's)` }))
    .addOption(settingOption('threads', { valueName: 'n', env: false, fallback: null, help: `HTTP rows: ${SETTINGS.threads.help} (default: the server's)` }))
    .addOption(settingOption('maxBatch', { valueName: 'n', env: false, fallback: null, help: `HTTP rows: ${SETTINGS.maxBatch.help} (default: the server's)` }))
    .addHelpText('after', `
Examples:
  cityseg bench                                   # default engine, both archs and sizes, HTTP at c=1,4
  cityseg bench --engine all --peers              # every engine, plus PyTorch and ONNX Runtime peers
  cityseg bench --video drive.mp4 --video-size 1024  # a video end to end: frames/s, stage costs, peak RSS
  cityseg bench --model-only --int8 street/       # int8 beside fp32: speed and agreement on street/'s images
  cityseg bench --json --model-only --arch lraspp_mobilenet_v3_large --num-classes 19 --size 512x1024`)
    .action(run);
}
