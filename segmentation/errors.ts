/**
 * Typed errors of the segmentation pipeline. Each carries a stable `code` string so the HTTP layer
 * and the CLI can map it (to a status or an exit code) without parsing messages.
 */

/**
 * Why an upload could not be decoded. Intended HTTP mapping (owned by routes/):
 * IMAGE_EMPTY → 422, IMAGE_NOT_RECOGNISED → 415, IMAGE_UNSUPPORTED_FORMAT → 415, IMAGE_CORRUPT → 422.
 */
export type ImageDecodeErrorCode =
  | 'IMAGE_EMPTY'
  | 'IMAGE_NOT_RECOGNISED'
  | 'IMAGE_UNSUPPORTED_FORMAT'
  | 'IMAGE_CORRUPT';

export class ImageDecodeError extends Error {
  override readonly name = 'ImageDecodeError';
  readonly code: ImageDecodeErrorCode;
  constructor(
    code: ImageDecodeErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.code = code;
  }
}

/** The header announces more pixels than allowed (intended HTTP mapping: 413). */
export class ImageTooLargeError extends Error {
  override readonly name = 'ImageTooLargeError';
  readonly code = 'IMAGE_TOO_LARGE';
  readonly width: number;
  readonly height: number;
  readonly maxPixels: number;
  constructor(
    width: number,
    height: number,
    maxPixels: number,
  ) {
    super(
      `image is ${width}x${height} = ${width * height} pixels, over the limit of ${maxPixels} pixels`,
    );
    this.width = width;
    this.height = height;
    this.maxPixels = maxPixels;
  }
}

/** A custom label file (or label set name) that cannot be used. */
export class LabelSetError extends Error {
  override readonly name = 'LabelSetError';
  readonly code = 'LABEL_SET_INVALID';
  readonly source: string;
  constructor(
    source: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`label set ${source}: ${message}`, options);
    this.source = source;
  }
}

/** The model's class count does not match the label set it is paired with. */
export class ClassCountMismatchError extends Error {
  override readonly name = 'ClassCountMismatchError';
  readonly code = 'CLASS_COUNT_MISMATCH';
  readonly labelSetName: string;
  readonly labelCount: number;
  readonly numClasses: number;
  constructor(
    labelSetName: string,
    labelCount: number,
    numClasses: number,
  ) {
    super(
      `label set "${labelSetName}" has ${labelCount} classes but the model outputs ${numClasses}`,
    );
    this.labelSetName = labelSetName;
    this.labelCount = labelCount;
    this.numClasses = numClasses;
  }
}

/** A tensor, image or class map whose shape does not fit the operation (names which and why). */
export class ShapeError extends Error {
  override readonly name = 'ShapeError';
  readonly code = 'SHAPE_MISMATCH';
}

/** An argument outside its allowed range (size policy, alpha, k, ...). */
export class InvalidArgumentError extends Error {
  override readonly name = 'InvalidArgumentError';
  readonly code = 'INVALID_ARGUMENT';
}
