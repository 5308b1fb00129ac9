import type { LoadedModel, ModelTask } from '../model/loaded-model.js';
import { classifierLabels } from '../model/imagenet-classes.js';
import { checkClassCount, labelSetFor, type LabelSet, type Rgb } from '../segmentation/labels/index.js';
import type { InferenceSubmit } from './inference.js';
import type { ModelEntry } from './models-file.js';
import { HttpProblem, unknownModel } from './problems.js';

/** One class as /v1/models lists it; classifiers have names only. */
export interface ModelClassInfo {
  index: number;
  id?: number;
  name: string;
  color?: Rgb;
}

/** A loaded model plus what the routes need to describe and answer with it. */
export interface ServedModel {
  model: LoadedModel;
  /** Segmentation models: ids, names and colours of the output channels. */
  labelSet?: LabelSet;
  /** Class names in output-channel order. */
  labels: string[];
  /** Its repository entry (inference size, mode defaults, workers...); absent for a model handed over in code. */
  entry?: ModelEntry;
  /** The runner (queue lane) its jobs go to; absent → the in-process runner of this registry. */
  lane?: string;
}

export class DuplicateModelError extends Error {
  constructor(id: string) {
    super(`a model with id "${id}" is already registered; give each model a distinct id`);
    this.name = 'DuplicateModelError';
  }
}

export class MissingLabelSetError extends Error {
  constructor(id: string) {
    super(`segmentation model "${id}" needs a label set (its class ids, names and colours)`);
    this.name = 'MissingLabelSetError';
  }
}

export function classesOf(served: ServedModel): ModelClassInfo[] {
  if (served.labelSet) {
    return served.labelSet.classes.map(({ index, id, name, color }) => ({ index, id, name, color }));
  }
  return served.labels.map((name, index) => ({ index, name }));
}

/**
 * A served model for `model` (its label set checked against its class count: a segmentation model needs one),
 * not yet in any registry.
 */
export function servedModel(model: LoadedModel, labelSet?: LabelSet, extras: Pick<ServedModel, 'entry' | 'lane'> = {}): ServedModel {
  if (model.task === 'segmentation') {
    if (!labelSet) throw new MissingLabelSetError(model.id);
    checkClassCount(labelSet, model.numClasses);
    return { model, labelSet, labels: labelSet.classes.map((c) => c.name), ...extras };
  }
  return { model, labels: classifierLabels(model.numClasses), ...extras };
}

/**
 * Served models for loaded repository entries (entries[i] describes models[i]), each segmentation model with the
 * label set its `labels` names; `lane`: the runner that runs them (absent: this thread).
 */
export async function servedModels(models: readonly LoadedModel[], entries: readonly ModelEntry[], lane?: string): Promise<ServedModel[]> {
  const served: ServedModel[] = [];
  for (const [i, model] of models.entries()) {
    const labelSet = model.task === 'segmentation' && model.labels !== undefined ? await labelSetFor(model.labels) : undefined;
    served.push(servedModel(model, labelSet, { entry: entries[i], lane }));
  }
  return served;
}

/** The arena accounting key of a model (its engine copies live in its runner). */
export function arenaKey(served: ServedModel): string {
  return `${served.lane ?? 'in-process'}/${served.model.id}`;
}

/**
 * How a job of `served` enters the inference queue: its runner's lane, its working memory (`plan.cost` bytes), and
 * its forward pass's share (`plan.forward`) held in the model's engine arena, one per worker thread (`workers`: the
 * settings' count, for a model without a models-file entry).
 */
export function queuePlacement(served: ServedModel, plan: { cost: number; forward: number }, workers: number): Pick<InferenceSubmit, 'cost' | 'arena' | 'lane'> {
  return {
    cost: plan.cost,
    arena: { key: arenaKey(served), bytes: plan.forward, copies: Math.max(1, served.entry?.workers ?? workers) },
    lane: served.lane,
  };
}

/**
 * The models the service answers with, by name (`model.id`); a task's default is its model with `default: true`,
 * else its first. A reload swaps the whole list at once; a model taken by a request is leased until the request
 * ends, so a removed model is released only once nothing still uses it.
 */
export class ModelRegistry {
  private models: ServedModel[] = [];
  private readonly leases = new Map<ServedModel, number>();
  private leaseWaiters: { served: ServedModel; resolve: () => void }[] = [];

  /** Registers a model; a segmentation model must come with a label set of its class count. */
  add(model: LoadedModel, labelSet?: LabelSet, extras: Pick<ServedModel, 'entry' | 'lane'> = {}): ServedModel {
    if (this.models.some((served) => served.model.id === model.id)) throw new DuplicateModelError(model.id);
    const served = servedModel(model, labelSet, extras);
    this.models.push(served);
    return served;
  }

  /** The whole set at once (a reload); throws DuplicateModelError for two models of one name. */
  replace(models: readonly ServedModel[]): void {
    const names = new Set<string>();
    for (const { model } of models) {
      if (names.has(model.id)) throw new DuplicateModelError(model.id);
      names.add(model.id);
    }
    this.models = [...models];
  }

  list(): readonly ServedModel[] {
    return this.models;
  }

  /** The model called `name`, or undefined (for routes that answer their own 404, e.g. the Open Inference Protocol's). */
  get(name: string): ServedModel | undefined {
    return this.models.find((served) => served.model.id === name);
  }

  /** Whether `name` is served and takes requests now. */
  isReady(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /**
   * The model answering `task`: the one named `id`, or the task's default. Throws problems: 404 for an unknown name
   * (listing the names), 400 for a model of the other task, 400 when no model of the task is loaded.
   */
  resolve(task: ModelTask, id?: string): ServedModel {
    const candidates = this.models.filter((served) => served.model.task === task);
    if (id !== undefined) {
      const found = this.get(id);
      if (!found) {
        throw unknownModel(id, this.models.map((served) => served.model.id));
      }
      if (found.model.task !== task) {
        const names = candidates.map((served) => served.model.id).join(', ') || 'none';
        throw new HttpProblem('bad-parameter', `querystring/model "${id}" is a ${found.model.task} model, not a ${task} one (${task} models: ${names})`);
      }
      return found;
    }
    const fallback = this.defaultOf(task);
    if (!fallback) throw new HttpProblem('unknown-model', `no ${task} model is loaded`);
    return fallback;
  }

  /** The model answering `task` when a request names none: the one marked default, else the task's first. */
  defaultOf(task: ModelTask): ServedModel | undefined {
    const candidates = this.models.filter((served) => served.model.task === task);
    return candidates.find((served) => served.entry?.default) ?? candidates[0];
  }

  /** Marks `served` as in use until the returned function is called (once; later calls do nothing). */
  lease(served: ServedModel): () => void {
    this.leases.set(served, (this.leases.get(served) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.leases.get(served) ?? 1) - 1;
      if (left > 0) {
        this.leases.set(served, left);
        return;
      }
      this.leases.delete(served);
      const waiters = this.leaseWaiters.filter((waiter) => waiter.served === served);
      this.leaseWaiters = this.leaseWaiters.filter((waiter) => waiter.served !== served);
      for (const waiter of waiters) waiter.resolve();
    };
  }

  /** Resolves once no request holds `served` (see lease). */
  unleased(served: ServedModel): Promise<void> {
    if (!this.leases.has(served)) return Promise.resolve();
    return new Promise((resolve) => this.leaseWaiters.push({ served, resolve }));
  }

  /** Looks a model up by id alone (used by the runner, which gets ids already resolved). */
  byId(id: string): ServedModel {
    const found = this.models.find((served) => served.model.id === id);
    if (!found) throw new HttpProblem('unknown-model', `no model with id "${id}"`);
    return found;
  }

  disposeAll(): void {
    for (const served of this.models.splice(0)) served.model.engine.dispose();
  }
}

/** The inference size a model's requests default to. */
export function inferenceSizeOf(served: ServedModel, fallback: ModelEntry['inferenceSize']): ModelEntry['inferenceSize'] {
  return served.entry?.inferenceSize ?? fallback;
}
