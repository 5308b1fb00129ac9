/** Errors of int8 quantisation: a calibration artefact that is unreadable or does not fit the model it is used with. */
export class QuantizationError extends Error {
  override readonly name = 'QuantizationError';
}
