/**
 * From options to a running model: resolve and strictly validate a torchvision checkpoint (or draw the seeded
 * untrained init), fold BatchNorm, and hand the folded network to an engine.
 */
import { ARCHITECTURES } from './architectures.js';
import type { InferenceEngine } from './engines/engine.js';
import { tryLoadOnnxEngine } from './engines/onnx-available.js';
import { BatchingEngine } from './engines/batching-engine.js';
import { SerialEngine } from './engines/serial-engine.js';
import { TfjsEngine } from './engines/tfjs-engine.js';
import { foldNetwork, type FoldedNetwork } from './fold.js';
import type { LoadedModel, LoadModelOptions, WeightsInfo } from './loaded-model.js';
import { expectedShapes, networkSpec, parameterCount } from './network-spec.js';
import { DEFAULT_SEED, seededStateDict } from './seeded-init.js';
import { readStateDictFile } from './weights/load.js';
import { checkPresetFits, NO_WEIGHTS } from './weights/weights-choice.js';
import { resolveWeights } from './weights/source.js';
import type { StateDict } from './weights/state-dict.js';
import { validateStateDict } from './weights/validate.js';
import { WeightsError } from './weights/errors.js';

export interface PreparedNetwork {
  network: FoldedNetwork;
  weights: WeightsInfo;
  parameterCount: number;
}

/** Everything but the engine: the part a worker thread can rebuild from the same options. */
export async function prepareNetwork(opts: LoadModelOptions): Promise<PreparedNetwork> {
  const spec = networkSpec(opts.arch, { numClasses: opts.numClasses });
  let dict: StateDict;
  let weights: WeightsInfo;
  if (opts.weights && opts.weights !== NO_WEIGHTS) {
    const resolved = await resolveWeights(opts.weights, { ...opts.fetch, cacheDir: opts.cacheDir });
    if (resolved.preset) checkPresetFits(resolved.preset, opts.arch, opts.numClasses);
    dict = await readStateDictFile(resolved.path);
    try {
      validateStateDict(dict, expectedShapes(spec));
    } catch (err) {
      if (err instanceof WeightsError) {
        throw new WeightsError(`${resolved.source} does not fit ${opts.arch} with ${opts.numClasses} classes: ${err.message}`);
      }
      throw err;
    }
    weights = { trained: true, source: resolved.source, sha256: resolved.sha256 };
  } else {
    dict = seededStateDict(spec, DEFAULT_SEED);
    weights = { trained: false, source: `seeded-init:${DEFAULT_SEED}`, sha256: null };
  }
  return { network: foldNetwork(spec, dict), weights, parameterCount: parameterCount(spec) };
}

export async function createEngine(network: FoldedNetwork, engine: LoadModelOptions['engine'] = 'auto', threads?: number): Promise<InferenceEngine> {
  const onnxOptions = { intraOpThreads: threads };
  switch (engine) {
    case 'auto': {
      // ONNX Runtime where its native binding loads, else TensorFlow.js.
      const OnnxEngine = await tryLoadOnnxEngine();
      return OnnxEngine ? OnnxEngine.create(network, onnxOptions) : TfjsEngine.create(network);
    }
    case 'onnx':
      return (await import('./engines/onnx-engine.js')).OnnxEngine.create(network, onnxOptions);
    case 'tfjs':
      return TfjsEngine.create(network);
    default:
      throw new Error(`engine ${engine} is not available`);
  }
}

export async function loadModel(opts: LoadModelOptions): Promise<LoadedModel> {
  const prepared = await prepareNetwork(opts);
  const single = await createEngine(prepared.network, opts.engine, opts.threads);
  const serial = new SerialEngine(single);
  const engine = opts.batching && opts.batching.maxBatch > 1 ? new BatchingEngine(serial, opts.batching) : serial;
  return {
    id: opts.id ?? opts.arch,
    task: ARCHITECTURES[opts.arch].task,
    arch: opts.arch,
    numClasses: opts.numClasses,
    parameterCount: prepared.parameterCount,
    weights: prepared.weights,
    engineName: engine.engine,
    engine,
  };
}
