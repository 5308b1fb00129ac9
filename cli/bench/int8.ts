/**
 * The bench's INT8 section: int8 beside fp32 on the ONNX engine, for each architecture and size: model-only p50 of
 * both, and agreement with fp32 on real street images (mask pixels, logits SQNR). Trained weights cannot be had
 * here, so the network is trained-like (cli/bench/trained-like.ts, from the same images); each image is judged
 * with ranges calibrated on the other images (on itself when it is the only one). For scale, the same two figures
 * for fp32 against fp32 on the image with one grey level of noise: how much these weights move on their own.
 */
import { resizeRgb } from '../../segmentation/preprocess.js';
import { CLI_MAX_PIXELS } from '../options.js';
import { readFile } from 'node:fs/promises';
import type { Float32Tensor, InferenceEngine } from '../../model/engines/engine.js';
import { loadOnnxEngine, onnxMissingMessage } from '../../model/engines/onnx-available.js';
import { OnnxEngineError } from '../../model/engines/onnx-errors.js';
import type { ArchName } from '../../model/loaded-model.js';
import { prepareNetwork } from '../../model/load-model.js';
import { argmaxAgreementPct, sqnrDb } from '../../model/quantize/agreement.js';
import { activationTable, type QuantizationArtefact } from '../../model/quantize/artefact.js';
import { calibrateNetwork, DEFAULT_PERCENTILE } from '../../model/quantize/calibration-run.js';
import { int8Ops } from '../../model/quantize/qdq-ops.js';
import { mulberry32 } from '../../model/seeded-init.js';
import { decodeImage } from '../../segmentation/decode.js';
import { upsampleArgmax } from '../../segmentation/postprocess.js';
import { normalizeImageNet, resizeForInference } from '../../segmentation/preprocess.js';
import type { RgbImage } from '../../segmentation/types.js';
import { collectImageInputs } from '../inputs.js';
import { summarize } from './stats.js';
import { makeTrainedLike } from './trained-like.js';

/** Images the section reads at most: each costs a calibration. */
const MAX_IMAGES = 8;
/** Size the trained-like statistics are taken at: enough pixels for stable BatchNorm statistics, quick. */
const TRAINED_LIKE_SIZE: [number, number] = [256, 512];
/** The long side calibration runs at: the server's default inference size. */
const CALIBRATION_SIZE = 1024;

export interface Int8Case {
  archs: ArchName[];
  numClasses: number;
  sizes: [number, number][];
  imagesDir: string;
  runs?: number;
  warmup: number;
  log: (line: string) => void;
}

export interface Int8Row {
  kind: 'int8';
  arch: ArchName;
  size: string;
  weights: string;
  calibration: string;
  fp32_p50_ms: number;
  int8_p50_ms: number;
  /** fp32 p50 / int8 p50. */
  speedup: number;
  images: number;
  /** Mean over the images, masks at the bench size. */
  agreement_pct: number;
  sqnr_db: number;
  /** fp32 vs fp32 with one grey level of noise on the image: the weights' own sensitivity. */
  noise_agreement_pct: number;
  noise_sqnr_db: number;
}

async function readImages(dir: string, log: (line: string) => void): Promise<{ name: string; rgb: RgbImage }[]> {
  const { images, problems } = await collectImageInputs([dir]);
  for (const p of problems) log(`  ${p.input}: ${p.reason}`);
  const out: { name: string; rgb: RgbImage }[] = [];
  for (const image of images.slice(0, MAX_IMAGES)) {
    try {
      out.push({ name: image.stem, rgb: await decodeImage(await readFile(image.file), { maxPixels: CLI_MAX_PIXELS }) });
    } catch (error) {
      log(`  ${image.file}: ${(error as Error).message}`);
    }
  }
  if (out.length === 0) throw new RangeError(`--int8: no readable image in ${dir}`);
  return out;
}

/** One grey level of noise: each 8-bit value moved by -1, 0 or +1 at random. */
function greyLevelNoise(rgb: RgbImage, seed: number): RgbImage {
  const uniform = mulberry32(seed);
  return { ...rgb, data: rgb.data.map((v) => Math.min(255, Math.max(0, v + Math.floor(uniform() * 3) - 1))) };
}

/** p50 of each engine, their runs alternated so both see the same machine load. */
async function alternatedP50(a: InferenceEngine, b: InferenceEngine, input: Float32Tensor, runs: number, warmup: number): Promise<[number, number]> {
  for (let i = 0; i < warmup; i++) {
    await a.run(input);
    await b.run(input);
  }
  const times: [number[], number[]] = [[], []];
  for (let i = 0; i < runs; i++) {
    for (const [k, engine] of [a, b].entries()) {
      const start = performance.now();
      await engine.run(input);
      times[k].push(performance.now() - start);
    }
  }
  return [summarize(times[0]).p50_ms, summarize(times[1]).p50_ms];
}

async function compare(reference: InferenceEngine, other: InferenceEngine, a: Float32Tensor, b: Float32Tensor, height: number, width: number): Promise<{ agreement: number; sqnr: number }> {
  const ref = await reference.run(a);
  const out = await other.run(b);
  return { agreement: argmaxAgreementPct(upsampleArgmax(ref, height, width).data, upsampleArgmax(out, height, width).data), sqnr: sqnrDb(ref.data, out.data) };
}

const mean = (values: number[]) => values.reduce((s, v) => s + v, 0) / values.length;
const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

export async function benchInt8(c: Int8Case): Promise<Int8Row[]> {
  // ONNX Runtime (an optional dependency) is imported only here, so `cityseg bench` runs without it.
  const onnx = await loadOnnxEngine();
  if ('error' in onnx) throw new OnnxEngineError(`bench --int8: ${onnxMissingMessage(onnx.error)}`);
  const OnnxEngine = onnx.engine;
  const images = await readImages(c.imagesDir, c.log);
  const rows: Int8Row[] = [];
  for (const arch of c.archs) {
    const prepared = await prepareNetwork({ arch, numClasses: c.numClasses });
    const net = prepared.network;
    c.log(`int8 ${arch}: trained-like weights from ${images.length} images...`);
    await makeTrainedLike(net, await Promise.all(images.map(async (i) => normalizeImageNet(await resizeRgb(i.rgb, TRAINED_LIKE_SIZE[1], TRAINED_LIKE_SIZE[0])))));
    const calibrationInputs = await Promise.all(images.map(async (i) => normalizeImageNet(await resizeForInference(i.rgb, CALIBRATION_SIZE))));
    const artefacts: QuantizationArtefact[] = [];
    for (const [k] of images.entries()) {
      const others = images.length > 1 ? calibrationInputs.filter((_, j) => j !== k) : calibrationInputs;
      c.log(`int8 ${arch}: calibrating for ${images[k].name} on ${others.length} other image(s)...`);
      artefacts.push(await calibrateNetwork(net, (async function* () { yield* others; })(), { method: 'percentile', percentile: DEFAULT_PERCENTILE, inferenceSize: CALIBRATION_SIZE, weightsSource: prepared.weights.source }));
    }
    const fp32 = await OnnxEngine.create(net);
    try {
      for (const [height, width] of c.sizes) {
        const runs = c.runs ?? (height * width > 1e6 ? 5 : 10);
        c.log(`int8 ${arch} ${height}x${width}: fp32 and int8, ${runs} runs each, and agreement on ${images.length} images...`);
        const agreement: number[] = [];
        const sqnr: number[] = [];
        const noiseAgreement: number[] = [];
        const noiseSqnr: number[] = [];
        let timed: { fp32: number; int8: number } | undefined;
        for (const [k, image] of images.entries()) {
          const rgb = await resizeRgb(image.rgb, width, height);
          const input = normalizeImageNet(rgb);
          const int8 = await OnnxEngine.create(net, { opsFor: int8Ops(activationTable(artefacts[k])) });
          try {
            // Speed on the first image: content does not change the work.
            if (!timed) {
              const [fp32Ms, int8Ms] = await alternatedP50(fp32, int8, input, runs, c.warmup);
              timed = { fp32: fp32Ms, int8: int8Ms };
            }
            const q = await compare(fp32, int8, input, input, height, width);
            agreement.push(q.agreement);
            sqnr.push(q.sqnr);
            const n = await compare(fp32, fp32, input, normalizeImageNet(greyLevelNoise(rgb, k + 1)), height, width);
            noiseAgreement.push(n.agreement);
            noiseSqnr.push(n.sqnr);
          } finally {
            int8.dispose();
          }
        }
        rows.push({
          kind: 'int8',
          arch,
          size: `${height}x${width}`,
          weights: `seeded-init, trained-like (BatchNorm statistics and head from the ${images.length} images)`,
          calibration: `${artefacts[0].calibration.method}, leave-one-out, long side ${CALIBRATION_SIZE}`,
          fp32_p50_ms: timed!.fp32,
          int8_p50_ms: timed!.int8,
          speedup: round(timed!.fp32 / timed!.int8, 2),
          images: images.length,
          agreement_pct: round(mean(agreement), 2),
          sqnr_db: round(mean(sqnr), 1),
          noise_agreement_pct: round(mean(noiseAgreement), 2),
          noise_sqnr_db: round(mean(noiseSqnr), 1),
        });
      }
    } finally {
      fp32.dispose();
    }
  }
  return rows;
}

/** One line of the bench's table. */
export function formatInt8Row(r: Int8Row): string {
  return `int8        onnx fp32 ${r.fp32_p50_ms} ms / int8 ${r.int8_p50_ms} ms (x${r.speedup})  ${r.arch.padEnd(27)} ${r.size.padEnd(10)} vs fp32 on ${r.images} images: agreement ${r.agreement_pct}%, SQNR ${r.sqnr_db} dB (fp32 with 1 grey level of noise: ${r.noise_agreement_pct}%, ${r.noise_sqnr_db} dB)`;
}
