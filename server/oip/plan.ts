import { SEGMENTATION_OUTPUTS } from './response.js';
import { DATATYPE_BYTES } from './tensors.js';

/**
 * Working memory of a segmentation response's tensors, added to the request plan's estimate before admission:
 * each tensor is built once and copied once into the response buffer; a JSON tensor is also its text (one byte
 * per character), up to `JSON_CHARS` per element with its comma.
 */
const JSON_CHARS = { UINT8: 4, INT32: 12, FP32: 24 } as const;
/** LR-ASPP's logits are at 1/8 of the network's input (model/forward.ts: engines return the 1/8 logits). */
const LOGITS_STRIDE = 8;

function responseTensorBytes(elements: number, datatype: keyof typeof JSON_CHARS, binary: boolean): number {
  const bytes = elements * DATATYPE_BYTES[datatype];
  // JSON: the typed array, its text, and the text encoded into the body; binary: the array and its copy.
  return binary ? bytes * 2 : bytes + elements * JSON_CHARS[datatype] * 2;
}

/** Bytes of the outputs asked for: class_ids at the image's size, logits [C, h, w] at 1/8 of the inference size. */
export function segmentOutputBytes(
  outputs: readonly { name: string; binary: boolean }[],
  facts: { imagePixels: number; inferenceWidth: number; inferenceHeight: number; numClasses: number; classIds: 'UINT8' | 'INT32' },
): number {
  let total = 0;
  for (const { name, binary } of outputs) {
    if (name === SEGMENTATION_OUTPUTS.classIds) total += responseTensorBytes(facts.imagePixels, facts.classIds, binary);
    else if (name === SEGMENTATION_OUTPUTS.logits) {
      const pixels = Math.ceil(facts.inferenceWidth / LOGITS_STRIDE) * Math.ceil(facts.inferenceHeight / LOGITS_STRIDE);
      total += responseTensorBytes(pixels * facts.numClasses, 'FP32', binary);
    }
  }
  return total;
}
