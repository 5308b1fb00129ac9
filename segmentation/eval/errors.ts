/** Every evaluation failure names the file (or in-memory source) and the value that was wrong. */
export class EvalError extends Error {
  override name = 'EvalError';
}

/** A label id the evaluation does not know: not a Cityscapes label id 0..33. */
export class InvalidLabelIdError extends EvalError {
  override name = 'InvalidLabelIdError';
  constructor(
    readonly source: string,
    readonly labelId: number,
    readonly role: 'prediction' | 'ground truth',
  ) {
    super(`${role} ${source} contains label id ${labelId}, which is not a Cityscapes label id (0..33)`);
  }
}

/** A trainId that no evaluated class has (only 0..18 are). */
export class InvalidTrainIdError extends EvalError {
  override name = 'InvalidTrainIdError';
  constructor(
    readonly source: string,
    readonly trainId: number,
  ) {
    super(`${source} contains trainId ${trainId}, which is no evaluated Cityscapes class (0..18)`);
  }
}

/** An instance id whose label (`id / 1000`) is unknown or has no instances in Cityscapes. */
export class InvalidInstanceIdError extends EvalError {
  override name = 'InvalidInstanceIdError';
  constructor(
    readonly source: string,
    readonly instanceId: number,
    reason: string,
  ) {
    super(`instance file ${source} contains instance id ${instanceId}: ${reason}`);
  }
}

/** Prediction (or instance image) and ground truth differ in width or height. */
export class SizeMismatchError extends EvalError {
  override name = 'SizeMismatchError';
  constructor(
    readonly source: string,
    readonly groundTruth: string,
    actual: { width: number; height: number },
    expected: { width: number; height: number },
  ) {
    super(
      `${source} is ${actual.width}x${actual.height} but its ground truth ${groundTruth} is ${expected.width}x${expected.height}`,
    );
  }
}

export class MissingPredictionError extends EvalError {
  override name = 'MissingPredictionError';
  constructor(
    readonly groundTruth: string,
    pattern: string,
    predDir: string,
  ) {
    super(`found no prediction for ground truth ${groundTruth} (no file ${pattern} under ${predDir})`);
  }
}

export class DuplicatePredictionError extends EvalError {
  override name = 'DuplicatePredictionError';
  constructor(
    readonly groundTruth: string,
    readonly candidates: readonly string[],
  ) {
    super(`found multiple predictions for ground truth ${groundTruth}: ${candidates.join(', ')}`);
  }
}

/** Some ground-truth files have an instance file and others do not, so iIoU would cover only part of the set. */
export class MissingInstanceFileError extends EvalError {
  override name = 'MissingInstanceFileError';
  constructor(
    readonly groundTruth: string,
    readonly instanceFile: string,
  ) {
    super(`ground truth ${groundTruth} has no instance file ${instanceFile}, but other ground-truth images do`);
  }
}

/** In-memory pairs where some bring instance images and others do not. */
export class InconsistentInstancesError extends EvalError {
  override name = 'InconsistentInstancesError';
  constructor(
    readonly groundTruth: string,
    hasInstances: boolean,
  ) {
    super(
      hasInstances
        ? `pair for ${groundTruth} has instance ids but the earlier pairs had none`
        : `pair for ${groundTruth} has no instance ids but the earlier pairs had them`,
    );
  }
}

/** A PNG the evaluation cannot read as one channel of ids (e.g. RGB, 16-bit labels, 1-bit grey). */
export class UnsupportedPngError extends EvalError {
  override name = 'UnsupportedPngError';
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`${file}: ${reason}`);
  }
}

/** A ground-truth file name that does not follow `<city>_<seq>_<frame>_<type>[_<type2>].<ext>`. */
export class CityscapesNameError extends EvalError {
  override name = 'CityscapesNameError';
  constructor(
    readonly file: string,
    parts: number,
  ) {
    super(`cannot parse Cityscapes file name ${file}: found ${parts} part(s), expected 5 or 6`);
  }
}

export class NoGroundTruthError extends EvalError {
  override name = 'NoGroundTruthError';
  constructor(readonly gtDir: string) {
    super(`found no *_gtFine_labelIds.png ground truth under ${gtDir}`);
  }
}

/** An in-memory image whose data length is not width × height. */
export class PixelCountError extends EvalError {
  override name = 'PixelCountError';
  constructor(
    readonly source: string,
    length: number,
    width: number,
    height: number,
  ) {
    super(`${source}: ${length} values for ${width}x${height} pixels`);
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
