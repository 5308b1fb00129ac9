/**
 * Model-only latency: one engine, one architecture, one input size; the forward pass plus the final upsample to
 * the input size and the argmax (what the peers' figures include), without decoding or encoding.
 */
import type { EngineName, Float32Tensor } from '../../model/engines/engine.js';
import type { ArchName } from '../../model/loaded-model.js';
import { createEngine, prepareNetwork } from '../../model/load-model.js';
import { upsampleArgmax } from '../../segmentation/postprocess.js';
import { mixedCellShare, smoothLogits } from './smooth-logits.js';
import { summarize, type LatencySummary } from './stats.js';

export interface ModelOnlyCase {
  engine: EngineName | 'auto';
  arch: ArchName;
  numClasses: number;
  height: number;
  width: number;
  runs: number;
  warmup: number;
}

export interface ModelOnlyRow extends LatencySummary {
  kind: 'model-only';
  engine: EngineName;
  backend: string;
  arch: ArchName;
  num_classes: number;
  size: string;
  batch: 1;
  /** Where the weights came from: `seeded-init:<seed>` is the untrained network (noisy logits). */
  weights: string;
  /** Images per second of one engine instance at p50. */
  throughput_per_s: number;
  /** p50 of the forward pass alone and of the upsample+argmax alone on its own (noisy) logits. */
  forward_p50_ms?: number;
  upsample_argmax_p50_ms?: number;
  /** Segmentation: p50 of forward + upsample+argmax of smooth, trained-like logits (smooth-logits.ts) in the same runs. */
  smooth_p50_ms?: number;
  smooth_upsample_argmax_p50_ms?: number;
  /** Share of 2x2 logits cells that mix classes: the work upsample+argmax cannot skip (noisy vs smooth). */
  mixed_cells?: { noisy: number; smooth: number };
}

/** A deterministic input: a smooth pattern in ImageNet-normalised range, so argmax maps have regions. */
export function syntheticInput(height: number, width: number): Float32Array {
  const data = new Float32Array(height * width * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = Math.sin(x / 37) * 1.5;
      data[i + 1] = Math.cos(y / 23) * 1.5;
      data[i + 2] = Math.sin((x + y) / 51) * 1.5;
    }
  }
  return data;
}

function timedMs(fn: () => unknown): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

const share = (v: number) => Math.round(v * 1000) / 1000;

export async function benchModelOnly(c: ModelOnlyCase): Promise<ModelOnlyRow> {
  const prepared = await prepareNetwork({ arch: c.arch, numClasses: c.numClasses });
  const engine = await createEngine(prepared.network, c.engine);
  try {
    const input = { data: syntheticInput(c.height, c.width), shape: [1, c.height, c.width, 3] };
    const classify = prepared.network.task === 'classification';
    let smooth: Float32Tensor | undefined;
    let noisy: Float32Tensor | undefined;
    const times = { total: [] as number[], forward: [] as number[], upsample: [] as number[], smoothTotal: [] as number[], smoothUpsample: [] as number[] };
    const once = async (record: boolean) => {
      const start = performance.now();
      const logits = await engine.run(input);
      const forward = performance.now() - start;
      if (classify) {
        if (record) times.total.push(forward);
        return;
      }
      noisy = logits;
      smooth ??= smoothLogits(logits.shape[1], logits.shape[2], logits.shape[3]);
      const upsample = timedMs(() => upsampleArgmax(logits, c.height, c.width));
      const smoothUpsample = timedMs(() => upsampleArgmax(smooth!, c.height, c.width));
      if (!record) return;
      times.total.push(forward + upsample);
      times.forward.push(forward);
      times.upsample.push(upsample);
      times.smoothTotal.push(forward + smoothUpsample);
      times.smoothUpsample.push(smoothUpsample);
    };
    for (let i = 0; i < c.warmup; i++) await once(false);
    for (let i = 0; i < c.runs; i++) await once(true);
    const summary = summarize(times.total);
    const segmentation = noisy && smooth
      ? {
          forward_p50_ms: summarize(times.forward).p50_ms,
          upsample_argmax_p50_ms: summarize(times.upsample).p50_ms,
          smooth_p50_ms: summarize(times.smoothTotal).p50_ms,
          smooth_upsample_argmax_p50_ms: summarize(times.smoothUpsample).p50_ms,
          mixed_cells: { noisy: share(mixedCellShare(noisy)), smooth: share(mixedCellShare(smooth)) },
        }
      : {};
    return {
      kind: 'model-only',
      engine: engine.engine,
      backend: engine.backend,
      arch: c.arch,
      num_classes: c.numClasses,
      size: `${c.height}x${c.width}`,
      batch: 1,
      weights: prepared.weights.source,
      ...summary,
      throughput_per_s: Math.round((1000 / summary.p50_ms) * 100) / 100,
      ...segmentation,
    };
  } finally {
    engine.dispose();
  }
}
