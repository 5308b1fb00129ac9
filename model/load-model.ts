/**
 * From options to a running model: resolve and strictly validate a torchvision checkpoint (or draw the seeded
 * untrained init), fold BatchNorm, and hand the folded network to an engine.
 */
import { ARCHITECTURES } from './architectures.js';
import type { InferenceEngine } from './engines/engine.js';
import { loadOnnxEngine, ONNX_FALLBACK_NOTE, onnxMissingMessage } from './engines/onnx-available.js';
import { OnnxEngineError } from './engines/onnx-errors.js';
import { BatchingEngine } from './engines/batching-engine.js';
import { SerialEngine } from './engines/serial-engine.js';
import { TfjsEngine } from './engines/tfjs-engine.js';
import { describeNetwork, UNTRAINED_DEFAULTS, type ModelDescriptor } from './descriptor.js';
import { foldNetwork, type FoldedNetwork } from './fold.js';
import { QuantizationError } from './quantize/errors.js';
import { onnxOpsFor, precisionProblem, type PrecisionOptions } from './quantize/precision.js';
import type { LoadedModel, LoadModelOptions, WeightsInfo } from './loaded-model.js';
import { expectedShapes, networkSpec, parameterCount } from './network-spec.js';
import { DEFAULT_SEED, seededStateDict } from './seeded-init.js';
import { materialiseStateDict } from './weights/checkpoint.js';
import { resolveArchitecture } from './weights/fit.js';
import { readCheckpoint, readWeightsFile } from './weights/load.js';
import { asWeightsError } from './weights/pth.js';
import { checkPresetFits, NO_WEIGHTS } from './weights/weights-choice.js';
import { resolveWeights } from './weights/source.js';
import type { StateDict } from './weights/state-dict.js';
import { validateStateDict } from './weights/validate.js';
import { WeightsError } from './weights/errors.js';

/** What was built (arch and class count given, or read from the checkpoint), the weights' label set and transform. */
export interface PreparedNetwork extends ModelDescriptor {
  network: FoldedNetwork;
  weights: WeightsInfo;
  parameterCount: number;
}

export { UNTRAINED_DEFAULTS } from './descriptor.js';

/**
 * Everything but the engine: the part a worker thread can rebuild from the same options. With `weights`, the
 * architecture and class count are read from the checkpoint and `arch` / `numClasses` / `task` checked against them
 * (model/weights/fit.ts); without, the untrained defaults apply. Throws WeightsError for an unreadable file, a
 * contradiction (naming both values) or a strict-loading mismatch (every missing, unexpected, misshapen tensor).
 */
export async function prepareNetwork(opts: LoadModelOptions): Promise<PreparedNetwork> {
  if (!opts.weights || opts.weights === NO_WEIGHTS) {
    const fallback = UNTRAINED_DEFAULTS[opts.arch ? ARCHITECTURES[opts.arch].task : (opts.task ?? 'segmentation')];
    const arch = opts.arch ?? fallback.arch;
    const spec = networkSpec(arch, { numClasses: opts.numClasses, filters: opts.filters });
    const weights = { trained: false, source: `seeded-init:${DEFAULT_SEED}`, sha256: null };
    return { ...describeNetwork(arch, spec.numClasses), network: foldNetwork(spec, seededStateDict(spec, DEFAULT_SEED)), weights, parameterCount: parameterCount(spec) };
  }
  const resolved = await resolveWeights(opts.weights, { ...opts.fetch, cacheDir: opts.cacheDir });
  // A preset's published facts are checked before its file is read: the same contradictions, named by the preset.
  if (resolved.preset) checkPresetFits(resolved.preset, opts.arch, opts.numClasses, undefined, opts.task);
  const checkpoint = readCheckpoint(await readWeightsFile(resolved.path), resolved.source, { weightsKey: opts.weightsKey });
  const shapes = new Map([...checkpoint.tensors].map(([name, tensor]) => [name, tensor.shape]));
  const { arch, numClasses, filters } = resolveArchitecture(shapes, resolved.source, opts);
  const spec = networkSpec(arch, { numClasses, filters });
  const dict: StateDict = asWeightsError(resolved.source, 'weights file', () => materialiseStateDict(checkpoint));
  try {
    validateStateDict(dict, expectedShapes(spec));
  } catch (err) {
    if (err instanceof WeightsError) {
      throw new WeightsError(`${resolved.source} does not fit ${arch} with ${numClasses} classes: ${err.message}`);
    }
    throw err;
  }
  const weights = { trained: true, source: resolved.source, sha256: resolved.sha256 };
  return { ...describeNetwork(arch, numClasses, resolved.preset), network: foldNetwork(spec, dict), weights, parameterCount: parameterCount(spec) };
}

/** The engine for a network; `precision` int8 (ONNX Runtime only) reads its quantisation file (model/quantize). */
export async function createEngine(
  network: FoldedNetwork,
  engine: LoadModelOptions['engine'] = 'auto',
  threads?: number,
  precision: PrecisionOptions & Pick<LoadModelOptions, 'executionProvider'> = {},
): Promise<InferenceEngine> {
  const problem = precisionProblem(precision, engine);
  if (problem) throw new QuantizationError(problem);
  const onnxOptions = async () => ({
    intraOpThreads: threads,
    opsFor: await onnxOpsFor(network, precision),
    executionProvider: precision.executionProvider,
    backend: precision.precision === 'int8' ? `onnxruntime-${precision.executionProvider ?? 'cpu'}-int8` : undefined,
  });
  switch (engine) {
    case 'auto': {
      // ONNX Runtime where it is installed and its native binding loads, else TensorFlow.js, saying so in `backend`.
      const onnx = await loadOnnxEngine();
      if ('engine' in onnx) return onnx.engine.create(network, await onnxOptions());
      if (precision.precision === 'int8') throw new QuantizationError(`precision int8 needs ONNX Runtime: ${onnxMissingMessage(onnx.error)}`);
      return TfjsEngine.create(network, undefined, ONNX_FALLBACK_NOTE);
    }
    case 'onnx': {
      const onnx = await loadOnnxEngine();
      if ('error' in onnx) throw new OnnxEngineError(`engine onnx: ${onnxMissingMessage(onnx.error)}`);
      return onnx.engine.create(network, await onnxOptions());
    }
    case 'tfjs':
      return TfjsEngine.create(network);
    default:
      throw new Error(`engine ${engine} is not available`);
  }
}

/** prepareNetwork, then the engine: the LoadedModel says which architecture and class count were built. */
export async function loadModel(opts: LoadModelOptions): Promise<LoadedModel> {
  const { network, weights, parameterCount, ...descriptor } = await prepareNetwork(opts);
  const single = await createEngine(network, opts.engine, opts.threads, opts);
  const serial = new SerialEngine(single);
  const engine = opts.batching && opts.batching.maxBatch > 1 ? new BatchingEngine(serial, opts.batching) : serial;
  return {
    ...descriptor,
    id: opts.id ?? descriptor.arch,
    parameterCount,
    weights,
    engineName: engine.engine,
    engine,
  };
}
