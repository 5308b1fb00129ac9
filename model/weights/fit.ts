/**
 * Which architecture and class count a state dict is for, read from its keys and shapes the way torchvision and
 * fastseg build them: LR-ASPP has `classifier.low_classifier.weight` [classes, low channels, 1, 1], MobileNetV3
 * `classifier.3.weight` [classes, hidden], fastseg's LRASPP `last.weight` [classes, F, 1, 1]; Large and Small differ
 * in every channel width, so the variant is the one whose expected shapes the file matches. Given values
 * (`--arch`, `--num-classes`) become checks.
 */
import { ARCH_NAMES, ARCHITECTURES, type ArchFamily, type ArchName, type ModelTask } from '../architectures.js';
import { FASTSEG_FILTERS } from '../fastseg.js';
import { expectedShapes, networkSpec } from '../network-spec.js';
import { WeightsError } from './errors.js';
import { compareShapes } from './validate.js';

export interface ArchitectureFit {
  arch: ArchName;
  numClasses: number;
  task: ModelTask;
  /** fastseg's head width F, read from `last.weight`; absent for torchvision's models. */
  filters?: number;
  /** False when no variant matches every key and shape: `arch` is then the closest, for the strict check to report. */
  exact: boolean;
}

/** Where each task's class count lives. */
const CLASS_COUNT_KEYS: Record<ModelTask, string> = {
  segmentation: 'classifier.low_classifier.weight',
  classification: 'classifier.3.weight',
};

/** The head by which each family's segmentation models are told apart: fastseg's `last` is [classes, F, 1, 1]. */
const FASTSEG_LAST = 'last.weight';

const LRASPP_HEAD = ['classifier.cbr', 'classifier.scale', 'classifier.low_classifier', 'classifier.high_classifier'];

const formatShape = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

/** Why no head was found, in the words of what the file does hold. */
function explainNoHead(names: string[], file: string): never {
  const some = names.slice(0, 3).join(', ');
  if (names.length === 0) throw new WeightsError(file, 'holds an empty state dict');
  if (names.every((name) => name.startsWith('backbone.'))) {
    throw new WeightsError(file, `holds an LR-ASPP backbone only (backbone.*, ${names.length} tensors): the head ${LRASPP_HEAD.join(', ')} is missing`);
  }
  if (names.every((name) => /^\d+\./.test(name))) {
    throw new WeightsError(
      file,
      `holds a backbone-only state dict (LRASPP.backbone.state_dict(): ${some}, ...): the LR-ASPP head ${LRASPP_HEAD.join(', ')} is missing, ` +
        'and the backbone keys lack their "backbone." prefix; save the whole model\'s state_dict()',
    );
  }
  if (names.every((name) => name.startsWith('features.'))) {
    throw new WeightsError(file, 'holds MobileNetV3 features only: the classifier head (classifier.0, classifier.3) is missing');
  }
  throw new WeightsError(
    file,
    `fits no MobileNetV3 or LR-ASPP architecture: it has neither ${CLASS_COUNT_KEYS.segmentation} (LR-ASPP) nor ` +
      `${CLASS_COUNT_KEYS.classification} (MobileNetV3 classifier); its first keys are ${some}`,
  );
}

/** Keys and shapes that differ from what `arch` with `numClasses` (and fastseg's `filters`) expects. */
function countProblems(shapes: Map<string, number[]>, arch: ArchName, numClasses: number, filters?: number): number {
  const { missing, wrongShape, unexpected } = compareShapes(shapes, expectedShapes(networkSpec(arch, { numClasses, filters })));
  return missing.length + wrongShape.length + unexpected.length;
}

function closest(shapes: Map<string, number[]>, family: ArchFamily, task: ModelTask, numClasses: number, filters?: number): { arch: ArchName; exact: boolean } {
  const ranked = ARCH_NAMES.filter((arch) => ARCHITECTURES[arch].task === task && ARCHITECTURES[arch].family === family)
    .map((arch) => ({ arch, problems: countProblems(shapes, arch, numClasses, filters) }))
    .sort((a, b) => a.problems - b.problems);
  return { arch: ranked[0].arch, exact: ranked[0].problems === 0 };
}

/** fastseg's checkpoint: class count and F from `last.weight`, then Large or Small from the trunk's shapes. */
function inferFastseg(shapes: Map<string, number[]>, file: string): ArchitectureFit {
  const last = shapes.get(FASTSEG_LAST)!;
  const [numClasses, filters] = last;
  if (!Number.isSafeInteger(numClasses) || numClasses < 1 || !(FASTSEG_FILTERS as readonly number[]).includes(filters)) {
    throw new WeightsError(file, `has fastseg's ${FASTSEG_LAST} of shape ${formatShape(last)}: [classes, F] with F one of ${FASTSEG_FILTERS.join(', ')} was expected`);
  }
  return { ...closest(shapes, 'fastseg', 'segmentation', numClasses, filters), numClasses, task: 'segmentation', filters };
}

/**
 * The architecture and class count `shapes` (state-dict key → shape) fit. Throws WeightsError naming `file` when
 * the keys are of no MobileNetV3 / LR-ASPP model (a backbone without its head, another network).
 */
export function inferArchitecture(shapes: Map<string, number[]>, file: string): ArchitectureFit {
  if (shapes.has(FASTSEG_LAST) && [...shapes.keys()].some((name) => name.startsWith('trunk.'))) return inferFastseg(shapes, file);
  const task = (Object.keys(CLASS_COUNT_KEYS) as ModelTask[]).find((t) => shapes.has(CLASS_COUNT_KEYS[t]));
  if (!task) explainNoHead([...shapes.keys()], file);
  const head = shapes.get(CLASS_COUNT_KEYS[task])!;
  const numClasses = head[0];
  if (!Number.isSafeInteger(numClasses) || numClasses < 1) {
    throw new WeightsError(file, `${CLASS_COUNT_KEYS[task]} has shape ${formatShape(head)}: no class count in it`);
  }
  return { ...closest(shapes, 'torchvision', task, numClasses), numClasses, task };
}

export interface ArchitectureRequest {
  arch?: ArchName;
  numClasses?: number;
  /** The task the caller serves (a segmentation model slot cannot take a classifier's weights). */
  task?: ModelTask;
}

/**
 * The architecture and class count to build for `shapes`: inferred, then checked against what the caller gave.
 * A contradiction is a WeightsError naming both values; a file matching no variant exactly yields the given (or
 * closest) one, whose strict check then lists every difference.
 */
export function resolveArchitecture(shapes: Map<string, number[]>, file: string, request: ArchitectureRequest): { arch: ArchName; numClasses: number; filters?: number } {
  const fit = inferArchitecture(shapes, file);
  const wantedTask = request.arch ? ARCHITECTURES[request.arch].task : request.task;
  if (wantedTask && wantedTask !== fit.task) {
    const archs = ARCH_NAMES.filter((arch) => ARCHITECTURES[arch].task === wantedTask).join(' or ');
    throw new WeightsError(
      file,
      `holds a ${fit.task} model (${fit.arch}, ${fit.numClasses} classes), but a ${wantedTask} model (${archs}) is needed here`,
    );
  }
  if (request.arch && fit.exact && request.arch !== fit.arch) {
    throw new WeightsError(file, `holds ${fit.arch} weights, but the architecture given is ${request.arch}`);
  }
  if (request.numClasses !== undefined && request.numClasses !== fit.numClasses) {
    const key = fit.filters === undefined ? CLASS_COUNT_KEYS[fit.task] : FASTSEG_LAST;
    throw new WeightsError(
      file,
      `has ${fit.numClasses} classes (${key} is ${formatShape(shapes.get(key)!)}), but ${request.numClasses} classes were given`,
    );
  }
  return { arch: request.arch ?? fit.arch, numClasses: fit.numClasses, ...(fit.filters === undefined ? {} : { filters: fit.filters }) };
}
