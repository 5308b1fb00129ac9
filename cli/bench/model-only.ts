/**
 * Model-only latency: one engine, one architecture, one input size; the forward pass plus the final upsample to
 * the input size and the argmax (what the peers' figures include), without decoding or encoding.
 */
import type { EngineName } from '../../model/engines/engine.js';
import type { ArchName } from '../../model/loaded-model.js';
import { createEngine, prepareNetwork } from '../../model/load-model.js';
import { upsampleArgmax } from '../../segmentation/postprocess.js';
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
  /** Images per second of one engine instance at p50. */
  throughput_per_s: number;
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

export async function benchModelOnly(c: ModelOnlyCase): Promise<ModelOnlyRow> {
  const prepared = await prepareNetwork({ arch: c.arch, numClasses: c.numClasses });
  const engine = await createEngine(prepared.network, c.engine);
  try {
    const input = { data: syntheticInput(c.height, c.width), shape: [1, c.height, c.width, 3] };
    const classify = prepared.network.task === 'classification';
    const once = async () => {
      const logits = await engine.run(input);
      if (!classify) upsampleArgmax(logits, c.height, c.width);
    };
    for (let i = 0; i < c.warmup; i++) await once();
    const times: number[] = [];
    for (let i = 0; i < c.runs; i++) {
      const start = performance.now();
      await once();
      times.push(performance.now() - start);
    }
    const summary = summarize(times);
    return {
      kind: 'model-only',
      engine: engine.engine,
      backend: engine.backend,
      arch: c.arch,
      num_classes: c.numClasses,
      size: `${c.height}x${c.width}`,
      batch: 1,
      ...summary,
      throughput_per_s: Math.round((1000 / summary.p50_ms) * 100) / 100,
    };
  } finally {
    engine.dispose();
  }
}
