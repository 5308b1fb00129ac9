import type { FastifyInstance } from 'fastify';
import { classifierTransformOf } from '../model/descriptor.js';
import { isOnnxFallback, onnxFallbackMessage } from '../model/engines/onnx-available.js';
import { minInputSide } from '../model/fastseg.js';
import type { LoadedModel } from '../model/loaded-model.js';
import { redactUrl } from '../model/weights/redact.js';
import { untrainedFix } from '../model/weights/weights-choice.js';
import { labelSetNameForClassCount } from '../segmentation/labels/for-class-count.js';
import { labelSetFor } from '../segmentation/labels/index.js';
import { inferenceDims, type InferenceSize } from '../segmentation/preprocess.js';
import { formatBytes, requestCapacity } from './memory-budget.js';
import type { LoadedEntry } from './load-models.js';
import type { ModelRegistry, ServedModel } from './model-registry.js';
import type { ModelEntry } from './models-file.js';

/** Warm-up frames are shaped like a Cityscapes frame (2048x1024) at the configured inference size. */
const REFERENCE_FRAME = { width: 2048, height: 1024 };

/**
 * The NHWC input shape of a model's warm-up inference, at least the model's minimum side (fastseg's 385); throws
 * InvalidArgumentError when `size` is below that minimum, so such a server stops at start naming it.
 */
export function warmUpShape(served: ServedModel, size: InferenceSize): number[] {
  if (served.model.task === 'classification') {
    const { cropSize } = classifierTransformOf(served.model);
    return [1, cropSize, cropSize, 3];
  }
  const { width, height } = inferenceDims(REFERENCE_FRAME.width, REFERENCE_FRAME.height, size, minInputSide(served.model.arch));
  return [1, height, width, 3];
}

/** One dummy forward pass, so the first real request does not pay for kernel set-up and allocation. */
export async function warmUp(served: ServedModel, size: InferenceSize): Promise<number> {
  const shape = warmUpShape(served, size);
  const started = performance.now();
  await served.model.engine.run({ data: new Float32Array(shape.reduce((a, b) => a * b, 1)), shape });
  return performance.now() - started;
}

/**
 * Adds models to a registry; segmentation models get the label set named by `labels` (checked against their class
 * count), or without one the built-in set of their class count (a preset's: 21 → voc).
 */
export async function registerModels(registry: ModelRegistry, models: LoadedModel[], labels: string | undefined): Promise<ServedModel[]> {
  const served: ServedModel[] = [];
  for (const model of models) {
    const labelSet = model.task === 'segmentation' ? await labelSetFor(labels ?? labelSetNameForClassCount(model.numClasses)) : undefined;
    served.push(registry.add(model, labelSet));
  }
  return served;
}

/**
 * Adds loaded repository entries to a registry (entries[i] describes loaded[i]), each with its label set by name;
 * `lane`: the runner that runs them.
 */
export async function registerEntries(registry: ModelRegistry, loaded: readonly LoadedEntry[], entries: readonly ModelEntry[], lane?: string): Promise<ServedModel[]> {
  const served: ServedModel[] = [];
  for (const [i, { model, labels }] of loaded.entries()) {
    const labelSet = labels === undefined ? undefined : await labelSetFor(labels);
    served.push(registry.add(model, labelSet, { entry: entries[i], lane }));
  }
  return served;
}

/** The start-up line for a model: where trained weights came from, or why it is untrained. */
function weightsMessage(model: LoadedModel): string {
  const { trained, origin, detail } = model.weights;
  const source = redactUrl(model.weights.source);
  if (trained) return `model ${model.id} ready: trained weights from ${source}${origin === 'default-preset' ? ' (the default)' : ''}`;
  const why = origin === 'none' ? 'no trained weights were given (weights none, or none in its models-file entry)' : detail;
  return `model ${model.id} ready: UNTRAINED (${source})${why ? `: ${why}` : ''}; its predictions are meaningless: ${untrainedFix(model.task)}`;
}

/**
 * Registers loaded models with a running app, warms each one (unless the runner has warmed its own
 * copies, as worker threads do), publishes it in the model-info metric, and then marks the app ready.
 */
export async function serveModels(app: FastifyInstance, models: LoadedModel[], opts: { warm?: boolean } = {}): Promise<void> {
  const { config, models: registry, readiness } = app;
  for (const served of await registerModels(registry, models, config.labels)) {
    const warmMs = opts.warm === false ? undefined : await warmUp(served, config.inferenceSize);
    publishModel(app, served, warmMs);
  }
  resetBudget(app);
  readiness.markReady();
}

/** The labels of cityseg_model_info for a model (one series per served model). */
function infoLabels({ model }: ServedModel) {
  return { id: model.id, model: model.id, task: model.task, arch: model.arch, engine: model.engineName, backend: model.engine.backend, trained: String(model.weights.trained) };
}

/** Takes a released model out of the model-info metric. */
export function unpublishModel(app: FastifyInstance, served: ServedModel): void {
  app.metrics.modelInfo.remove(infoLabels(served));
}

/** A model now serving: in the model-info metric, and its start-up line in the log (trained or why not). */
export function publishModel(app: FastifyInstance, served: ServedModel, warmMs?: number): void {
  const { config, metrics } = app;
  const { model } = served;
  const trained = model.weights.trained;
  metrics.modelInfo.set(infoLabels(served), 1);
  const message = weightsMessage(model);
  app.log[trained ? 'info' : 'warn'](
    {
      model: model.id,
      task: model.task,
      arch: model.arch,
      engine: model.engineName,
      backend: model.engine.backend,
      trained,
      weightsSource: redactUrl(model.weights.source),
      weightsOrigin: model.weights.origin,
      sha256: model.weights.sha256,
      workers: served.entry?.workers ?? config.workers,
      ...(warmMs === undefined ? {} : { warmUpMs: Math.round(warmMs) }),
    },
    message,
  );
  if (isOnnxFallback(model.engine.backend)) app.log.warn({ model: model.id, backend: model.engine.backend }, onnxFallbackMessage());
}

/** Capacity under which no request could be admitted (a request's fixed working memory and a small body). */
const MIN_REQUEST_CAPACITY = 16 * 1024 ** 2;

/**
 * Sets the requests' share of the memory budget from the memory the models need: `baseline` is the process with its
 * models loaded and warmed and no request (server/model-repository.ts keeps it: the start-up RSS plus what each
 * reload's models added; by default the RSS now, right for a start with nothing else running). The arenas the
 * inference queue charged stay out of the capacity. A capacity too small for any request makes /readyz fail, with a
 * log line saying why, instead of a ready server answering every request 503.
 */
export function resetBudget(app: FastifyInstance, baseline = process.memoryUsage().rss): void {
  const { budget, budgetSource, readiness, inference } = app;
  budget.setCapacity(requestCapacity(budgetSource.bytes, baseline) - inference.queue.arenaBytes);
  const facts = { memoryBudget: budgetSource.bytes, budgetSource: budgetSource.source, baselineBytes: baseline, requestCapacity: budget.capacity };
  const summary = `memory budget ${formatBytes(budgetSource.bytes)} (${budgetSource.source}): ${formatBytes(budget.capacity)} for requests after a baseline of ${formatBytes(baseline)}`;
  if (budget.capacity < MIN_REQUEST_CAPACITY) {
    const reason = `the memory budget leaves ${formatBytes(budget.capacity)} for requests (models need ${formatBytes(baseline)} of ${formatBytes(budgetSource.bytes)}): raise CITYSEG_MEMORY_BUDGET or serve fewer models`;
    readiness.setMemoryShortage(reason);
    app.log.error(facts, `not ready: ${reason}`);
    return;
  }
  readiness.setMemoryShortage(null);
  app.log.info(facts, summary);
}
