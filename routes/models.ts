import type { FastifyPluginAsync } from 'fastify';
import { redactUrl } from '../model/weights/redact.js';
import { CLASSIFICATION_CROP } from '../segmentation/preprocess.js';
import { classesOf, type ServedModel } from '../server/model-registry.js';
import type { ServerConfig } from '../server/config.js';

const rgbSchema = { type: 'array', items: { type: 'integer', minimum: 0, maximum: 255 }, minItems: 3, maxItems: 3 } as const;

export const modelSchema = {
  $id: 'Model',
  type: 'object',
  required: ['id', 'task', 'arch', 'numClasses', 'classes', 'parameterCount', 'weights', 'engine', 'backend', 'inferenceSize'],
  properties: {
    id: { type: 'string', description: 'Value for the `model` query parameter' },
    task: { type: 'string', enum: ['segmentation', 'classification'] },
    arch: { type: 'string' },
    numClasses: { type: 'integer' },
    classes: {
      type: 'array',
      items: {
        type: 'object',
        required: ['index', 'name'],
        properties: {
          index: { type: 'integer', description: 'Output channel (Cityscapes trainId)' },
          id: { type: 'integer', description: 'Dataset label id (Cityscapes id)' },
          name: { type: 'string' },
          color: rgbSchema,
        },
      },
    },
    parameterCount: { type: 'integer' },
    weights: {
      type: 'object',
      required: ['trained', 'source', 'sha256'],
      properties: {
        trained: { type: 'boolean', description: 'false: seeded random initialisation, predictions are meaningless' },
        source: { type: 'string', description: 'Path, preset name or URL (without its query string and credentials), or seeded-init:<seed>' },
        sha256: { type: 'string', nullable: true },
        origin: {
          type: 'string',
          enum: ['default-preset', 'given', 'none', 'fallback', 'no-preset'],
          description:
            'default-preset: the default torchvision weights; given: the configured weights; untrained because: none was asked for, ' +
            'fallback: the default weights could not be fetched, no-preset: torchvision publishes none for this model',
        },
        detail: { type: 'string', description: 'Why the model is untrained (fallback, no-preset)' },
      },
    },
    engine: { type: 'string' },
    backend: { type: 'string' },
    inferenceSize: {
      description: 'Segmentation: default long side (or native). Classification: the centre-crop side.',
      anyOf: [{ type: 'integer' }, { type: 'string', enum: ['native'] }],
    },
  },
} as const;

export function describeModel(served: ServedModel, config: ServerConfig) {
  const { model } = served;
  return {
    id: model.id,
    task: model.task,
    arch: model.arch,
    numClasses: model.numClasses,
    classes: classesOf(served),
    parameterCount: model.parameterCount,
    weights: { ...model.weights, source: redactUrl(model.weights.source) },
    engine: model.engineName,
    backend: model.engine.backend,
    inferenceSize: model.task === 'segmentation' ? config.inferenceSize : CLASSIFICATION_CROP,
  };
}

/** GET /v1/models: what is loaded, including whether its weights are trained. */
export const modelsRoutes: FastifyPluginAsync = async (app) => {
  app.addSchema(modelSchema);
  app.get(
    '/v1/models',
    {
      schema: {
        tags: ['models'],
        summary: 'The loaded models, their classes and where their weights came from',
        response: {
          200: {
            type: 'object',
            required: ['models'],
            properties: { models: { type: 'array', items: { $ref: 'Model#' } } },
          },
        },
      },
    },
    async () => ({ models: app.cityseg.models.list().map((served) => describeModel(served, app.cityseg.config)) }),
  );
};
