import { labelIdTable } from '../../segmentation/encode.js';
import type { LabelSet } from '../../segmentation/labels/index.js';
import type { ClassMap } from '../../segmentation/types.js';
import type { Float32Tensor } from '../../model/engines/engine.js';
import { jsonArrayText, tensorBytes, type OutputTensor } from './tensors.js';

/**
 * The inference response of the Open Inference Protocol (`$inference_response`): `{id?, model_name,
 * model_version, outputs}` as JSON, or with Triton's binary tensor data extension the JSON header followed by
 * the binary outputs' bytes in output order (`Inference-Header-Content-Length` gives the header's length). Built
 * as one buffer that owns its memory, so a worker thread can move it to the main thread without a copy.
 */

export interface ResponseHead {
  id?: string;
  model_name: string;
  model_version: string;
  /** The response's parameters: `trained` false marks a seeded untrained model's meaningless answer. */
  parameters?: { trained: boolean };
}

export interface EncodedResponse {
  body: Uint8Array;
  contentType: string;
  /** The JSON header's byte length, when a binary tail follows it. */
  headerLength?: number;
}

/** Output names of the two tasks, and the outputs answered when the request names none. */
export const SEGMENTATION_OUTPUTS = { classIds: 'class_ids', logits: 'logits' } as const;
export const CLASSIFICATION_OUTPUTS = { probabilities: 'probabilities' } as const;

/**
 * The protocol's response as a segmentation job's output format (server/inference.ts SegmentOutput): the outputs
 * asked for (in order) and whether each goes binary.
 */
export interface OipOutput {
  format: 'oip';
  head: ResponseHead;
  outputs: { name: string; binary: boolean }[];
}

/** Whether the pipeline must keep the network's logits for this response. */
export function keepsLogits(output: OipOutput): boolean {
  return output.outputs.some(({ name }) => name === SEGMENTATION_OUTPUTS.logits);
}

/**
 * The class_ids datatype of a label set: dataset label ids (what /v1/segment?format=labelIds writes) fit UINT8
 * unless an id lies outside 0..255, then INT32.
 */
export function classIdsDatatype(labelSet: LabelSet): 'UINT8' | 'INT32' {
  return labelSet.classes.every((c) => c.id >= 0 && c.id <= 255) ? 'UINT8' : 'INT32';
}

/** The class map as dataset label ids `[H, W]`; values that are no class (an ignore index) become 0, as in labelIds PNGs. */
export function classIdsTensor(map: ClassMap, labelSet: LabelSet, binary: boolean): OutputTensor {
  const datatype = classIdsDatatype(labelSet);
  const table = labelIdTable(labelSet, datatype === 'INT32');
  const data = datatype === 'UINT8' ? new Uint8Array(map.data.length) : new Int32Array(map.data.length);
  for (let p = 0; p < map.data.length; p++) data[p] = table[map.data[p]];
  return { name: SEGMENTATION_OUTPUTS.classIds, datatype, shape: [map.height, map.width], data, binary };
}

/** The network's NHWC logits [1, h, w, C] as the protocol's `[C, h, w]` FP32 tensor (channel-major, like torchvision's). */
export function logitsTensor(logits: Float32Tensor, binary: boolean): OutputTensor {
  const [, h, w, c] = logits.shape;
  const data = new Float32Array(c * h * w);
  const plane = h * w;
  for (let p = 0; p < plane; p++) {
    for (let k = 0; k < c; k++) data[k * plane + p] = logits.data[p * c + k];
  }
  return { name: SEGMENTATION_OUTPUTS.logits, datatype: 'FP32', shape: [c, h, w], data, binary };
}

/** Encodes the response: JSON outputs carry `data`, binary ones `parameters.binary_data_size` and a tail. */
export function encodeResponse(head: ResponseHead, tensors: OutputTensor[]): EncodedResponse {
  const parts = tensors.map((tensor) => {
    const meta = { name: tensor.name, datatype: tensor.datatype, shape: tensor.shape };
    if (!tensor.binary) return JSON.stringify(meta).slice(0, -1) + `,"data":${jsonArrayText(tensor.data)}}`;
    return JSON.stringify({ ...meta, parameters: { binary_data_size: tensor.data.byteLength } });
  });
  const headText = JSON.stringify({
    ...(head.id === undefined ? {} : { id: head.id }),
    model_name: head.model_name,
    model_version: head.model_version,
    ...(head.parameters === undefined ? {} : { parameters: head.parameters }),
  });
  const json = `${headText.slice(0, -1)},"outputs":[${parts.join(',')}]}`;
  const binary = tensors.filter((tensor) => tensor.binary);
  const headerLength = Buffer.byteLength(json);
  const body = new Uint8Array(headerLength + binary.reduce((sum, tensor) => sum + tensor.data.byteLength, 0));
  new TextEncoder().encodeInto(json, body);
  let offset = headerLength;
  for (const tensor of binary) {
    body.set(tensorBytes(tensor.data), offset);
    offset += tensor.data.byteLength;
  }
  if (binary.length === 0) return { body, contentType: 'application/json' };
  return { body, contentType: 'application/octet-stream', headerLength };
}

/** A segmentation outcome as the response the job asked for (runs where the job runs: a worker thread). */
export function encodeSegmentResponse(
  outcome: { classMap: ClassMap; logits?: Float32Tensor },
  labelSet: LabelSet,
  request: OipOutput,
): EncodedResponse {
  const tensors = request.outputs.map(({ name, binary }) => {
    if (name === SEGMENTATION_OUTPUTS.classIds) return classIdsTensor(outcome.classMap, labelSet, binary);
    if (!outcome.logits) throw new TypeError('the logits output was asked for but the pipeline kept no logits');
    return logitsTensor(outcome.logits, binary);
  });
  return encodeResponse(request.head, tensors);
}
