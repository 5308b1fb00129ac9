/** Every evaluation failure names the file (or in-memory source) and the value that was wrong. */
export class EvalError extends Error {
  override name = 'EvalError';
}

/** A label id the evaluation does not know: not a Cityscapes label id 0..33. */
export class InvalidLabelIdError extends EvalError {
  override name = 'InvalidLabelIdError';
  readonly source: string;
  readonly labelId: number;
  readonly role: 'prediction' | 'ground truth';
  constructor(
    source: string,
    labelId: number,
    role: 'prediction' | 'ground truth',
  ) {
    super(`${role} ${source} contains label id ${labelId}, which is not a Cityscapes label id (0..33)`);
    this.source = source;
    this.labelId = labelId;
    this.role = role;
  }
}

/** A trainId that no evaluated class has (only 0..18 are). */
export class InvalidTrainIdError extends EvalError {
  override name = 'InvalidTrainIdError';
  readonly source: string;
  readonly trainId: number;
  constructor(
    source: string,
    trainId: number,
  ) {
    super(`${source} contains trainId ${trainId}, which is no evaluated Cityscapes class (0..18)`);
    this.source = source;
    this.trainId = trainId;
  }
}

/** An instance id whose label (`id / 1000`) is unknown or has no instances in Cityscapes. */
export class InvalidInstanceIdError extends EvalError {
  override name = 'InvalidInstanceIdError';
  readonly source: string;
  readonly instanceId: number;
  constructor(
    source: string,
    instanceId: number,
    reason: string,
  ) {
    super(`instance file ${source} contains instance id ${instanceId}: ${reason}`);
    this.source = source;
    this.instanceId = instanceId;
  }
}

/** Prediction (or instance image) and ground truth differ in width or height. */
export class SizeMismatchError extends EvalError {
  override name = 'SizeMismatchError';
  readonly source: string;
  readonly groundTruth: string;
  constructor(
    source: string,
    groundTruth: string,
    actual: { width: number; height: number },
    expected: { width: number; height: number },
  ) {
    super(
      `${source} is ${actual.width}x${actual.height} but its ground truth ${groundTruth} is ${expected.width}x${expected.height}`,
    );
    this.source = source;
    this.groundTruth = groundTruth;
  }
}

export class MissingPredictionError extends EvalError {
  override name = 'MissingPredictionError';
  readonly groundTruth: string;
  constructor(
    groundTruth: string,
    pattern: string,
    predDir: string,
  ) {
    super(`found no prediction for ground truth ${groundTruth} (no file ${pattern} under ${predDir})`);
    this.groundTruth = groundTruth;
  }
}

export class DuplicatePredictionError extends EvalError {
  override name = 'DuplicatePredictionError';
  readonly groundTruth: string;
  readonly candidates: readonly string[];
  constructor(
    groundTruth: string,
    candidates: readonly string[],
  ) {
    super(`found multiple predictions for ground truth ${groundTruth}: ${candidates.join(', ')}`);
    this.groundTruth = groundTruth;
    this.candidates = candidates;
  }
}

/** Some ground-truth files have an instance file and others do not, so iIoU would cover only part of the set. */
export class MissingInstanceFileError extends EvalError {
  override name = 'MissingInstanceFileError';
  readonly groundTruth: string;
  readonly instanceFile: string;
  constructor(
    groundTruth: string,
    instanceFile: string,
  ) {
    super(`ground truth ${groundTruth} has no instance file ${instanceFile}, but other ground-truth images do`);
    this.groundTruth = groundTruth;
    this.instanceFile = instanceFile;
  }
}

/** In-memory pairs where some bring instance images and others do not. */
export class InconsistentInstancesError extends EvalError {
  override name = 'InconsistentInstancesError';
  readonly groundTruth: string;
  constructor(
    groundTruth: string,
    hasInstances: boolean,
  ) {
    super(
      hasInstances
        ? `pair for ${groundTruth} has instance ids but the earlier pairs had none`
        : `pair for ${groundTruth} has no instance ids but the earlier pairs had them`,
    );
    this.groundTruth = groundTruth;
  }
}

/** A PNG the evaluation cannot read as one channel of ids (e.g. RGB, 16-bit labels, 1-bit grey). */
export class UnsupportedPngError extends EvalError {
  override name = 'UnsupportedPngError';
  readonly file: string;
  constructor(
    file: string,
    reason: string,
  ) {
    super(`${file}: ${reason}`);
    this.file = file;
  }
}

/** A ground-truth file name that does not follow `<city>_<seq>_<frame>_<type>[_<type2>].<ext>`. */
export class CityscapesNameError extends EvalError {
  override name = 'CityscapesNameError';
  readonly file: string;
  constructor(
    file: string,
    parts: number,
  ) {
    super(`cannot parse Cityscapes file name ${file}: found ${parts} part(s), expected 5 or 6`);
    this.file = file;
  }
}

export class NoGroundTruthError extends EvalError {
  override name = 'NoGroundTruthError';
  readonly gtDir: string;
  constructor(gtDir: string) {
    super(`found no *_gtFine_labelIds.png ground truth under ${gtDir}`);
    this.gtDir = gtDir;
  }
}

/** An in-memory image whose data length is not width × height. */
export class PixelCountError extends EvalError {
  override name = 'PixelCountError';
  readonly source: string;
  constructor(
    source: string,
    length: number,
    width: number,
    height: number,
  ) {
    super(`${source}: ${length} values for ${width}x${height} pixels`);
    this.source = source;
  }
}

export function assertPixelCount(image: { data: { length: number }; width: number; height: number; source: string }): void {
  if (image.data.length !== image.width * image.height) {
    throw new PixelCountError(image.source, image.data.length, image.width, image.height);
  }
}

type Sized = { width: number; height: number; source: string };

/** The script's width/height check: `image` (prediction or instance ids) must match its ground truth. */
export function assertSameSize(image: Sized, groundTruth: Sized): void {
  if (image.width !== groundTruth.width || image.height !== groundTruth.height) {
    throw new SizeMismatchError(image.source, groundTruth.source, image, groundTruth);
  }
}
