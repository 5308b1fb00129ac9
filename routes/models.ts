import type { FastifyPluginAsync } from 'fastify';
import { redactUrl } from '../model/weights/redact.js';
import { CLASSIFICATION_CROP } from '../segmentation/preprocess.js';
import { classesOf, type ServedModel } from '../server/model-registry.js';
import type { ServerConfig } from '../server/config.js';
import { HttpProblem, PROBLEM_CONTENT_TYPE } from '../server/problems.js';

const rgbSchema = { type: 'array', items: { type: 'integer', minimum: 0, maximum: 255 }, minItems: 3, maxItems: 3 } as const;

const summaryProperties = {
  id: { type: 'string', description: 'Value for the `model` query parameter and the {name} of /v1/models/{name}' },
  task: { type: 'string', enum: ['segmentation', 'classification'] },
  arch: { type: 'string' },
  numClasses: { type: 'integer' },
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
  href: { type: 'string', description: 'URL of the full card, with the class names' },
} as const;
const summaryRequired = ['id', 'task', 'arch', 'numClasses', 'parameterCount', 'weights', 'engine', 'backend', 'inferenceSize', 'href'];

/** One entry of GET /v1/models: the facts without the class list (a classifier has 1000 names). */
export const modelSummarySchema = {
  $id: 'ModelSummary',
  type: 'object',
  required: summaryRequired,
  properties: summaryProperties,
} as const;

/** GET /v1/models/{name}: the summary plus every class (names; ids and colours for segmentation). */
export const modelSchema = {
  $id: 'Model',
  type: 'object',
  required: [...summaryRequired, 'classes'],
  properties: {
    ...summaryProperties,
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
  },
} as const;

export function describeModelSummary(served: ServedModel, config: ServerConfig) {
  const { model } = served;
  return {
    id: model.id,
    task: model.task,
    arch: model.arch,
    numClasses: model.numClasses,
    parameterCount: model.parameterCount,
    weights: { ...model.weights, source: redactUrl(model.weights.source) },
    engine: model.engineName,
    backend: model.engine.backend,
    inferenceSize: model.task === 'segmentation' ? config.inferenceSize : CLASSIFICATION_CROP,
    href: `/v1/models/${encodeURIComponent(model.id)}`,
  };
}

export function describeModel(served: ServedModel, config: ServerConfig) {
  return { ...describeModelSummary(served, config), classes: classesOf(served) };
}

/** GET /v1/models (what is loaded, including whether its weights are trained) and GET /v1/models/{name}. */
export const modelsRoutes: FastifyPluginAsync = async (app) => {
  app.addSchema(modelSummarySchema);
  app.addSchema(modelSchema);
  app.get(
    '/v1/models',
    {
      schema: {
        tags: ['models'],
        summary: 'The loaded models and where their weights came from (class lists: GET /v1/models/{name})',
        response: {
          200: {
            type: 'object',
            required: ['models'],
            properties: { models: { type: 'array', items: { $ref: 'ModelSummary#' } } },
          },
        },
      },
    },
    async () => ({ models: app.cityseg.models.list().map((served) => describeModelSummary(served, app.cityseg.config)) }),
  );
  app.get<{ Params: { name: string } }>(
    '/v1/models/:name',
    {
      schema: {
        tags: ['models'],
        summary: 'One loaded model with its classes (names; ids and colours for segmentation)',
        params: {
          type: 'object',
          required: ['name'],
          properties: { name: { type: 'string', minLength: 1, maxLength: 128, description: 'A model id from GET /v1/models' } },
        },
        response: {
          200: { $ref: 'Model#' },
          404: { description: 'No loaded model has this id', content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: 'Problem#' } } } },
        },
      },
    },
    async (request) => {
      const served = app.cityseg.models.list().find((candidate) => candidate.model.id === request.params.name);
      if (!served) {
        const known = app.cityseg.models.list().map((candidate) => candidate.model.id);
        throw new HttpProblem('not-found', `no model "${request.params.name}" is loaded (loaded: ${known.join(', ') || 'none yet'})`);
      }
      return describeModel(served, app.cityseg.config);
    },
  );
};
