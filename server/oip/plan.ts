import { SEGMENTATION_OUTPUTS } from './response.js';

/**
 * Working memory of a segmentation response's tensors, added to the request plan's estimate before admission:
 * each tensor is built once and copied once into the response buffer; a JSON tensor is also its text (one byte
 * per character), up to `JSON_CHARS` per element with its comma.
 */
const JSON_CHARS = { UINT8: 4, INT32: 12, FP32: 24 } as const;
const ELEMENT_BYTES = { UINT8: 1, INT32: 4, FP32: 4 } as const;

function tensorBytes(elements: number, datatype: keyof typeof ELEMENT_BYTES, binary: boolean): number {
  const bytes = elements * ELEMENT_BYTES[datatype];
  // JSON: the typed array, its text, and the text encoded into the body; binary: the array and its copy.
  return binary ? bytes * 2 : bytes + elements * JSON_CHARS[datatype] * 2;
}

/**
 * Bytes of the outputs asked for: class_ids at the image's size; logits [C, h, w] bounded by the largest
 * forward pass's input size (the network's output is never larger than its input).
 */
export function segmentOutputBytes(
  outputs: readonly { name: string; binary: boolean }[],
  facts: { imagePixels: number; inferencePixels: number; numClasses: number; classIds: 'UINT8' | 'INT32' },
): number {
  let total = 0;
  for (const { name, binary } of outputs) {
    if (name === SEGMENTATION_OUTPUTS.classIds) total += tensorBytes(facts.imagePixels, facts.classIds, binary);
    else if (name === SEGMENTATION_OUTPUTS.logits) total += tensorBytes(facts.inferencePixels * facts.numClasses, 'FP32', binary);
  }
  return total;
}
