/**
 * The ONNX Runtime engine: the folded network emitted as an ONNX graph (engine layout: NHWC in, NHWC low-res
 * logits out) and run by onnxruntime-node's CPU execution provider.
 */
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import type { FoldedNetwork } from '../fold.js';
import type { Float32Tensor, InferenceEngine } from './engine.js';
import type { ExecutionProvider } from './execution-providers.js';
import { OnnxEngineError } from './onnx-errors.js';
import { buildOnnxModel, INPUT_NAME, OUTPUT_NAMES, type OnnxModelOptions } from './onnx-graph.js';

export interface OnnxEngineOptions {
  /** Threads one convolution may use; default: every core. */
  intraOpThreads?: number;
  /** Threads running independent graph branches; ORT uses them only in parallel execution mode, so default 1. */
  interOpThreads?: number;
  /** The ops the graph is emitted with (model/quantize's int8 QDQ ops); default fp32. */
  opsFor?: OnnxModelOptions['opsFor'];
  /** What `backend` reports (/v1/models, logs), e.g. `onnxruntime-cpu-int8`; default `onnxruntime-<provider>`. */
  backend?: string;
  /** Where the graph runs; default cpu. cuda needs onnxruntime-node installed with ONNXRUNTIME_NODE_INSTALL=cuda12. */
  executionProvider?: ExecutionProvider;
}

const OUTPUT_NAME = OUTPUT_NAMES.engine;

/** The engine's ONNX Runtime session settings (the benchmark runs the peers' export with the same ones). */
export function sessionOptions(options: OnnxEngineOptions = {}): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [options.executionProvider ?? 'cpu'],
    graphOptimizationLevel: 'all',
    // The arena stays on: without it a 2048x2048 pass took 20 s instead of 1.5-2.5 s (fresh pages for every
    // activation). It keeps the largest pass's memory, which the memory budget therefore holds for good
    // (server/memory-budget.ts). Per-shape memory plans are off: they would keep one plan per input size.
    enableCpuMemArena: true,
    enableMemPattern: false,
    executionMode: 'sequential',
    intraOpNumThreads: options.intraOpThreads ?? availableParallelism(),
    interOpNumThreads: options.interOpThreads ?? 1,
    // Idle intra-op threads sleep instead of spinning, leaving the cores to decoding and post-processing
    // (measured: model-only time unchanged, HTTP throughput at concurrency 4 up ~10%; spinning doubled a pass
    // when the machine was shared, README Speed). dynamic_block_base 4: parallel loops hand out shrinking blocks
    // instead of one fixed share per thread, so a thread the OS preempts holds up less of a convolution (same
    // outputs bit for bit; 12-27% less wall time on a shared machine, docs/speed.md).
    extra: { session: { intra_op: { allow_spinning: '0' }, dynamic_block_base: '4' } },
  };
}

export class OnnxEngine implements InferenceEngine {
  readonly engine = 'onnx' as const;
  readonly backend: string;
  private session: ort.InferenceSession | undefined;
  /** Runs in flight: the session is released only after they settle, since ORT runs them on its own threads. */
  private readonly running = new Set<Promise<unknown>>();

  private constructor(session: ort.InferenceSession, backend: string) {
    this.session = session;
    this.backend = backend;
  }

  /**
   * The session for a folded network. Throws OnnxEngineError when the execution provider cannot be had here (for
   * cuda: its libraries were not installed, or no CUDA 12 / GPU), naming the provider and how to get or avoid it.
   */
  static async create(net: FoldedNetwork, options: OnnxEngineOptions = {}): Promise<OnnxEngine> {
    const provider = options.executionProvider ?? 'cpu';
    const model = buildOnnxModel(net, { layout: 'engine', opsFor: options.opsFor });
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(model, sessionOptions(options));
    } catch (err) {
      if (provider === 'cpu') throw err;
      throw new OnnxEngineError(
        `execution provider ${provider} is not available here (${(err as Error).message.split('\n')[0]}): install onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12 on a machine with CUDA 12, or set CITYSEG_EXECUTION_PROVIDER=cpu`,
      );
    }
    return new OnnxEngine(session, options.backend ?? `onnxruntime-${provider}`);
  }

  async run(input: Float32Tensor): Promise<Float32Tensor> {
    const session = this.session;
    if (!session) throw new OnnxEngineError('ONNX engine has been disposed');
    const { shape } = input;
    if (shape.length !== 4 || shape[3] !== 3 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new OnnxEngineError(`expected NHWC input [N, H, W, 3], got [${shape.join(', ')}]`);
    }
    const expected = shape.reduce((a, b) => a * b, 1);
    if (input.data.length !== expected) {
      throw new OnnxEngineError(`input data has ${input.data.length} values, shape [${shape.join(', ')}] needs ${expected}`);
    }
    // Wraps the caller's array without copying.
    const feed = new ort.Tensor('float32', input.data, shape);
    const pending = session.run({ [INPUT_NAME]: feed });
    this.running.add(pending);
    let results: ort.InferenceSession.ReturnType | undefined;
    try {
      results = await pending;
      const output = results[OUTPUT_NAME];
      // The typed array stays valid after dispose(): a CPU tensor only drops its own reference.
      return { data: output.data as Float32Array, shape: [...output.dims] };
    } finally {
      this.running.delete(pending);
      feed.dispose();
      for (const tensor of Object.values(results ?? {})) tensor.dispose();
    }
  }

  dispose(): void {
    const session = this.session;
    if (!session) return;
    this.session = undefined;
    // release() only fails for a session already released, which the guard above rules out.
    void Promise.allSettled([...this.running]).then(() => session.release()).catch(() => undefined);
  }
}
