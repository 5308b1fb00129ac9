import { ImageDecodeError, ImageTooLargeError, InvalidArgumentError, ShapeError } from '../segmentation/errors.js';
import { HttpProblem, type ProblemKind } from './problems.js';

/**
 * Errors crossing the worker-thread boundary. Structured clone keeps only message and a standard
 * name, so the typed errors the HTTP mapping needs are sent as plain data and rebuilt here.
 */
export type WireError =
  | { name: 'ImageDecodeError'; code: ImageDecodeError['code']; message: string }
  | { name: 'ImageTooLargeError'; width: number; height: number; maxPixels: number }
  | { name: 'InvalidArgumentError' | 'ShapeError' | 'Error'; message: string }
  | { name: 'HttpProblem'; kind: ProblemKind; detail: string };

export function toWire(error: unknown): WireError {
  if (error instanceof ImageDecodeError) return { name: 'ImageDecodeError', code: error.code, message: error.message };
  if (error instanceof ImageTooLargeError) {
    return { name: 'ImageTooLargeError', width: error.width, height: error.height, maxPixels: error.maxPixels };
  }
  if (error instanceof HttpProblem) return { name: 'HttpProblem', kind: error.kind, detail: error.detail };
  if (error instanceof InvalidArgumentError) return { name: 'InvalidArgumentError', message: error.message };
  if (error instanceof ShapeError) return { name: 'ShapeError', message: error.message };
  return { name: 'Error', message: error instanceof Error ? error.message : String(error) };
}

export function fromWire(wire: WireError): Error {
  switch (wire.name) {
    case 'ImageDecodeError':
      return new ImageDecodeError(wire.code, wire.message);
    case 'ImageTooLargeError':
      return new ImageTooLargeError(wire.width, wire.height, wire.maxPixels);
    case 'HttpProblem':
      return new HttpProblem(wire.kind, wire.detail);
    case 'InvalidArgumentError':
      return new InvalidArgumentError(wire.message);
    case 'ShapeError':
      return new ShapeError(wire.message);
    default:
      return new Error(`inference worker: ${wire.message}`);
  }
}
