import type { LoadedModel, ModelTask } from '../model/loaded-model.js';
import { IMAGENET_CLASSES } from '../model/imagenet-classes.js';
import { checkClassCount, type LabelSet, type Rgb } from '../segmentation/labels/index.js';
import { HttpProblem } from './problems.js';

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

/** Class names of a classifier: ImageNet's when it has 1000 outputs, else `class <i>`. */
function classifierLabels(numClasses: number): string[] {
  return numClasses === IMAGENET_CLASSES.length
    ? [...IMAGENET_CLASSES]
    : Array.from({ length: numClasses }, (_, i) => `class ${i}`);
}

export function classesOf(served: ServedModel): ModelClassInfo[] {
  if (served.labelSet) {
    return served.labelSet.classes.map(({ index, id, name, color }) => ({ index, id, name, color }));
  }
  return served.labels.map((name, index) => ({ index, name }));
}

/** The models the service answers with; the first of each task is that task's default. */
export class ModelRegistry {
  private readonly models: ServedModel[] = [];

  /** Registers a model; a segmentation model must come with a label set of its class count. */
  add(model: LoadedModel, labelSet?: LabelSet): ServedModel {
    if (this.models.some((served) => served.model.id === model.id)) throw new DuplicateModelError(model.id);
    let served: ServedModel;
    if (model.task === 'segmentation') {
      if (!labelSet) throw new MissingLabelSetError(model.id);
      checkClassCount(labelSet, model.numClasses);
      served = { model, labelSet, labels: labelSet.classes.map((c) => c.name) };
    } else {
      served = { model, labels: classifierLabels(model.numClasses) };
    }
    this.models.push(served);
    return served;
  }

  list(): readonly ServedModel[] {
    return this.models;
  }

  /** The model answering `task`: the one named `id`, or the task's default. Throws a 400 problem otherwise. */
  resolve(task: ModelTask, id?: string): ServedModel {
    const candidates = this.models.filter((served) => served.model.task === task);
    if (candidates.length === 0) throw new HttpProblem('unknown-model', `no ${task} model is loaded`);
    if (id === undefined) return candidates[0];
    const found = candidates.find((served) => served.model.id === id);
    if (!found) {
      const ids = candidates.map((served) => served.model.id).join(', ');
      throw new HttpProblem('unknown-model', `no ${task} model with id "${id}" (loaded: ${ids})`);
    }
    return found;
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
