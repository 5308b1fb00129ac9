import fp from 'fastify-plugin';
import type { FastifyPluginAsync } from 'fastify';
import { redactUrl } from '../model/weights/redact.js';
import { classifierTransformOf } from '../model/descriptor.js';
import { IMAGENET_MEAN, IMAGENET_STD, PIL_BILINEAR, RESIZE_KERNEL, inferenceDims } from '../segmentation/preprocess.js';
import { classesOf, inferenceSizeOf, type ServedModel } from '../server/model-registry.js';
import { DEFAULT_MODE_DEFAULTS } from '../server/models-file.js';
import { forwardBytes } from '../server/working-memory.js';
import type { ServerConfig } from '../server/config.js';
import { PROBLEM_CONTENT_TYPE, unknownModel } from '../server/problems.js';
import { inferenceModeProperties, rgbSchema } from './schemas.js';



const summaryProperties = {
  name: { type: 'string', description: 'Value for the `model` query parameter and the {name} of /v1/models/{name}' },
  id: { type: 'string', description: 'The same as name (kept for clients of API 1.0)' },
  ready: { type: 'boolean', description: 'Loaded, warmed and taking requests' },
  trained: { type: 'boolean', description: 'false: seeded random initialisation, predictions are meaningless' },
  default: { type: 'boolean', description: 'Answers its task when a request names no model' },
  task: { type: 'string', enum: ['segmentation', 'classification'] },
  arch: { type: 'string' },
  numClasses: { type: 'integer' },
  labels: { type: 'string', nullable: true, description: 'The label set the class indices mean (cityscapes, voc, imagenet, a label file), when known' },
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
const summaryRequired = ['name', 'id', 'ready', 'trained', 'default', 'task', 'arch', 'numClasses', 'parameterCount', 'weights', 'engine', 'backend', 'inferenceSize', 'href'];

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
  required: [...summaryRequired, 'classes', 'preprocessing', 'workers', 'memory', 'inference'],
  properties: {
    ...summaryProperties,
    preprocessing: {
      type: 'object',
      description: 'What happens to an image before the network (torchvision\'s transforms)',
      properties: {
        resize: { type: 'string' },
        longSide: { anyOf: [{ type: 'integer' }, { type: 'string', enum: ['native'] }] },
        shortSide: { type: 'integer' },
        crop: { type: 'integer' },
        kernel: { type: 'string' },
        mean: { type: 'array', items: { type: 'number' } },
        std: { type: 'array', items: { type: 'number' } },
      },
    },
    workers: { type: 'integer', description: 'Worker threads of this model\'s own pool (0: the main thread)' },
    threads: { type: 'integer', description: 'Intra-op threads per engine (0: the cores shared out)' },
    maxBatch: { type: 'integer' },
    memory: {
      type: 'object',
      required: ['weightsBytes', 'forwardBytes'],
      properties: {
        weightsBytes: { type: 'integer', description: 'float32 parameters, per engine copy' },
        forwardBytes: { type: 'integer', description: 'Estimated engine memory of one pass at the default size (a 2048x1024 frame), per copy' },
      },
    },
    inference: {
      type: 'object',
      description: 'Defaults of /v1/segment\'s mode, crop, stride, scales and flip for this model',
      properties: inferenceModeProperties,
    },
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

export function describeModelSummary(served: ServedModel, config: ServerConfig, ready = true, isDefault = false) {
  const { model } = served;
  return {
    name: model.id,
    id: model.id,
    ready,
    trained: model.weights.trained,
    default: isDefault,
    task: model.task,
    arch: model.arch,
    numClasses: model.numClasses,
    labels: served.labelSet?.name ?? model.labels ?? null,
    parameterCount: model.parameterCount,
    weights: { ...model.weights, source: redactUrl(model.weights.source) },
    engine: model.engineName,
    backend: model.engine.backend,
    inferenceSize: model.task === 'segmentation' ? inferenceSizeOf(served, config.inferenceSize) : classifierTransformOf(model).cropSize,
    href: `/v1/models/${encodeURIComponent(model.id)}`,
  };
}

/**
 * How an image is prepared for the model, as torchvision's transforms would say it: a classifier's is its weights'
 * transform (the descriptor's, PIL's bilinear resampler); segmentation follows the inference-size policy (libvips).
 */
function preprocessingOf(served: ServedModel, config: ServerConfig) {
  const statistics = { mean: [...IMAGENET_MEAN], std: [...IMAGENET_STD] };
  if (served.model.task === 'classification') {
    const { resizeShortSide, cropSize } = classifierTransformOf(served.model);
    return { resize: 'short side, then centre crop', shortSide: resizeShortSide, crop: cropSize, kernel: PIL_BILINEAR, ...statistics };
  }
  return { resize: 'long side (never enlarged)', longSide: inferenceSizeOf(served, config.inferenceSize), kernel: RESIZE_KERNEL, ...statistics };
}

/** The full card: the summary, every class, preprocessing, runner and memory facts, mode defaults. */
export function describeModel(served: ServedModel, config: ServerConfig, ready = true, isDefault = false) {
  const { model } = served;
  const pass =
    model.task === 'classification'
      ? { width: classifierTransformOf(model).cropSize, height: classifierTransformOf(model).cropSize }
      : inferenceDims(2048, 1024, inferenceSizeOf(served, config.inferenceSize));
  const entry = served.entry;
  return {
    ...describeModelSummary(served, config, ready, isDefault),
    classes: classesOf(served),
    preprocessing: preprocessingOf(served, config),
    workers: entry?.workers ?? config.workers,
    threads: entry?.threads ?? config.threads,
    maxBatch: entry?.maxBatch ?? config.maxBatch,
    memory: { weightsBytes: model.parameterCount * 4, forwardBytes: Math.round(forwardBytes(model.engineName, model.arch, pass.width * pass.height)) },
    inference: entry?.modeDefaults ?? DEFAULT_MODE_DEFAULTS,
  };
}

/** GET /v1/models (what is loaded, including whether its weights are trained) and GET /v1/models/{name}. */
const modelsPlugin: FastifyPluginAsync = async (app) => {
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
    async () => {
      const { models, config } = app;
      return {
        models: models.list().map((served) => describeModelSummary(served, config, models.isReady(served.model.id), models.defaultOf(served.model.task) === served)),
      };
    },
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
      const { models, config } = app;
      const served = models.get(request.params.name);
      if (!served) throw unknownModel(request.params.name, models.list().map((candidate) => candidate.model.id));
      return describeModel(served, config, models.isReady(served.model.id), models.defaultOf(served.model.task) === served);
    },
  );
};

export const modelsRoutes = fp(modelsPlugin, { name: 'cityseg-models', dependencies: ['cityseg-config', 'cityseg-inference'], encapsulate: true });
