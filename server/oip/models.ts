import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ServedModel } from '../model-registry.js';
import { HttpProblem, unknownModel } from '../problems.js';
import { IMAGE_INPUT, PIXELS_INPUT } from './request.js';
import { CLASSIFICATION_OUTPUTS, classIdsDatatype, SEGMENTATION_OUTPUTS } from './response.js';
import type { TensorMetadata } from './tensors.js';

/**
 * The models of the Open Inference Protocol routes: every served model under its id, in one version "1".
 * `findModel` and `modelNotReadyReason` are the only places that ask the model registry.
 */

/** A model name and version in the path, as the routes' schemas check them (the bounds of /v1/models/{name}). */
export const MODEL_PARAMS = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1, maxLength: 128 }, version: { type: 'string', minLength: 1, maxLength: 128 } },
} as const;

/** The one version each model has (cityseg serves one set of weights per model name). */
export const MODEL_VERSION = '1';

/**
 * The served model `name` (and `version`, when the path has one); 404 otherwise, naming what is served. With `reply`,
 * the model is leased until the response ends, so a reload releases it only after this request.
 */
export function findModel(app: FastifyInstance, name: string, version?: string, reply?: FastifyReply): ServedModel {
  const { models } = app;
  const served = models.get(name);
  const loading = app.readiness.notReadyReason;
  // Before the first models are in, any name may be one of them: not ready (503) rather than unknown (404).
  if (!served && models.list().length === 0 && loading !== null) {
    throw new HttpProblem('not-ready', `model "${name}" is not ready: ${loading}`, 5);
  }
  if (!served) throw unknownModel(name, models.list().map((candidate) => candidate.model.id));
  if (version !== undefined && version !== MODEL_VERSION) {
    throw new HttpProblem('not-found', `model "${name}" has no version "${version}" (versions: ${MODEL_VERSION})`);
  }
  if (reply) reply.raw.once('close', models.lease(served));
  return served;
}

/** Why `served` cannot answer now, or null when it can: the service is shutting down, or a reload removed it. */
export function modelNotReadyReason(app: FastifyInstance, served: ServedModel): string | null {
  const { models, readiness } = app;
  if (!models.isReady(served.model.id)) return 'it is no longer served';
  return readiness.notReadyReason;
}

/** The model's input tensors: one of them per request. */
export const MODEL_INPUTS: TensorMetadata[] = [
  { name: IMAGE_INPUT, datatype: 'BYTES', shape: [1] },
  { name: PIXELS_INPUT, datatype: 'UINT8', shape: [-1, -1, 3] },
];

/** The outputs a model can answer, in the order they are listed; the first is its default. */
export function modelOutputs(served: ServedModel): TensorMetadata[] {
  const { model, labelSet } = served;
  if (model.task === 'classification') {
    return [{ name: CLASSIFICATION_OUTPUTS.probabilities, datatype: 'FP32', shape: [model.numClasses] }];
  }
  if (!labelSet) throw new TypeError(`segmentation model ${model.id} has no label set`);
  return [
    { name: SEGMENTATION_OUTPUTS.classIds, datatype: classIdsDatatype(labelSet), shape: [-1, -1] },
    { name: SEGMENTATION_OUTPUTS.logits, datatype: 'FP32', shape: [model.numClasses, -1, -1] },
  ];
}

/** Outputs answered when a request names none: everything but the logits (large, and only when asked for). */
export function defaultOutputs(served: ServedModel): string[] {
  return modelOutputs(served)
    .map((output) => output.name)
    .filter((name) => name !== SEGMENTATION_OUTPUTS.logits);
}

/** `$metadata_model_response` of GET /v2/models/{name}. */
export function modelMetadata(served: ServedModel) {
  return {
    name: served.model.id,
    versions: [MODEL_VERSION],
    // The service's pipeline (decode, resize, network, upsample) on its engine, not a bare network file.
    platform: `cityseg_${served.model.engineName}`,
    inputs: MODEL_INPUTS,
    outputs: modelOutputs(served),
    parameters: descriptorParameters(served),
  };
}

/**
 * The model's descriptor as protocol parameters (scalars, as MLServer's `MetadataModelResponse.parameters`): arch,
 * task, class count, label set and a classifier's transform.
 */
function descriptorParameters({ model, labelSet }: ServedModel): Record<string, string | number> {
  const labels = labelSet?.name ?? model.labels;
  return {
    arch: model.arch,
    task: model.task,
    num_classes: model.numClasses,
    ...(labels === undefined ? {} : { labels }),
    ...(model.preprocessing ? { resize_short_side: model.preprocessing.resizeShortSide, crop_size: model.preprocessing.cropSize } : {}),
  };
}
