/**
 * Instance-weighted true/false negatives for iIoU, as `evaluatePair` gathers them when
 * `args.evalInstLevelScore` is on: each ground-truth instance's pixels count with weight
 * avgClassSize[class] / instance area.
 */
import { AVG_CLASS_SIZE, INSTANCE_ID_DIVISOR } from './cityscapes-facts.js';
import { assertPixelCount, assertSameSize, InvalidInstanceIdError } from './errors.js';
import { INSTANCE_CATEGORIES, INSTANCE_CLASSES, LABEL_BY_ID } from './label-sets.js';
import type { InstanceIdImage, LabelIdImage } from './types.js';

export interface InstanceTally {
  tp: number;
  fn: number;
  tpWeighted: number;
  fnWeighted: number;
}

const emptyTally = (): InstanceTally => ({ tp: 0, fn: 0, tpWeighted: 0, fnWeighted: 0 });

export class InstanceStats {
  /** Keyed by class name: the 8 evaluated classes with instances. */
  readonly classes = new Map<string, InstanceTally>(INSTANCE_CLASSES.map((l) => [l.name, emptyTally()]));
  /** Keyed by category name: categories whose labels all have instances (human, vehicle). */
  readonly categories = new Map<string, InstanceTally>(INSTANCE_CATEGORIES.map((c) => [c.name, emptyTally()]));
}

/** Per category, 1 for predicted label ids that belong to it (the script's `categoryMasks`). */
const CATEGORY_MEMBERSHIP = new Map<string, Uint8Array>(
  INSTANCE_CATEGORIES.map((c) => {
    const member = new Uint8Array(256);
    for (const id of c.labelIds) member[id] = 1;
    return [c.name, member];
  }),
);

interface InstanceCount {
  area: number;
  /** Pixels predicted as the instance's own label id. */
  hits: number;
  /** Pixels predicted as any label id of the instance's category. */
  categoryHits: number;
}

/** One evaluated instance of one image: its class and how much of it the prediction covers. */
export interface InstanceMeasure {
  className: string;
  category: string;
  area: number;
  hits: number;
  categoryHits: number;
}

/**
 * Measures every instance (id > 1000) of one ground-truth image, in ascending id order (np.unique's),
 * skipping ignored classes. Pure: throws on a bad id or size before anything is counted.
 */
export function measureInstances(instances: InstanceIdImage, prediction: LabelIdImage): InstanceMeasure[] {
  assertSameSize(prediction, instances);
  assertPixelCount(instances);
  assertPixelCount(prediction);
  const counts = countInstances(instances, prediction);
  const measures: InstanceMeasure[] = [];
  for (const instanceId of [...counts.keys()].sort((a, b) => a - b)) {
    const label = labelOfInstance(instances.source, instanceId);
    if (!label.ignoreInEval) measures.push({ className: label.name, category: label.category, ...counts.get(instanceId)! });
  }
  return measures;
}

/** Adds measured instances with weight avgClassSize / area, as `evaluatePair` does. */
export function addInstances(stats: InstanceStats, measures: readonly InstanceMeasure[]): void {
  for (const { className, category, area, hits, categoryHits } of measures) {
    const weight = AVG_CLASS_SIZE[className] / area;
    addTo(stats.classes.get(className)!, hits, area - hits, weight);
    const categoryTally = stats.categories.get(category);
    if (categoryTally) addTo(categoryTally, categoryHits, area - categoryHits, weight);
  }
}

function countInstances(instances: InstanceIdImage, prediction: LabelIdImage): Map<number, InstanceCount> {
  const counts = new Map<number, InstanceCount>();
  const ids = instances.data;
  const pred = prediction.data;
  let current = -1;
  let entry: InstanceCount | undefined;
  let ownLabel = -1;
  let member: Uint8Array | undefined;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (id <= INSTANCE_ID_DIVISOR) continue;
    // Neighbouring pixels mostly share an instance, so the map lookup is skipped while it repeats.
    if (id !== current) {
      current = id;
      entry = counts.get(id);
      if (!entry) counts.set(id, (entry = { area: 0, hits: 0, categoryHits: 0 }));
      ownLabel = Math.floor(id / INSTANCE_ID_DIVISOR);
      member = CATEGORY_MEMBERSHIP.get(LABEL_BY_ID[ownLabel]?.category ?? '');
    }
    const p = pred[i];
    entry!.area++;
    if (p === ownLabel) entry!.hits++;
    if (member && member[p] === 1) entry!.categoryHits++;
  }
  return counts;
}

function labelOfInstance(source: string, instanceId: number) {
  const labelId = Math.floor(instanceId / INSTANCE_ID_DIVISOR);
  const label = LABEL_BY_ID[labelId];
  if (!label) throw new InvalidInstanceIdError(source, instanceId, `label id ${labelId} is not a Cityscapes label`);
  if (!label.ignoreInEval && !label.hasInstances) {
    throw new InvalidInstanceIdError(source, instanceId, `label ${labelId} (${label.name}) has no instances in Cityscapes`);
  }
  return label;
}

function addTo(tally: InstanceTally, tp: number, fn: number, weight: number): void {
  tally.tp += tp;
  tally.fn += fn;
  tally.tpWeighted += tp * weight;
  tally.fnWeighted += fn * weight;
}
