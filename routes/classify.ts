import fp from 'fastify-plugin';
import type { FastifyPluginAsync } from 'fastify';
import { readImageBody } from '../server/image-body.js';
import { probeImage } from '../segmentation/decode.js';
import { planClassify } from '../server/request-plan.js';
import { trainedSchema } from './schemas.js';
import { admissionOf, IMAGE_CONSUMES, IMAGE_ERROR_RESPONSES, modelHeaders, modelQueryParam, recordInference, requireModel } from './image-route.js';

/**
 * The JSON answer: an object like /v1/segment's (model, trained, then the result) rather than a bare array, so it
 * can say whether the model is trained; the ranked entries are its `classes`.
 */
const classificationSchema = {
  type: 'object',
  required: ['model', 'trained', 'classes'],
  properties: {
    model: { type: 'string' },
    trained: trainedSchema,
    classes: {
      type: 'array',
      items: {
        type: 'object',
        required: ['index', 'label', 'probability'],
        properties: {
          index: { type: 'integer' },
          label: { type: 'string' },
          probability: { type: 'number', minimum: 0, maximum: 1 },
        },
      },
    },
  },
} as const;

interface ClassifyQuery {
  topk: number;
  model?: string;
}

/** POST /v1/classify: an image in, `{ model, trained, classes }` out, the top-k ImageNet classes by descending probability. */
const classifyPlugin: FastifyPluginAsync = async (app) => {
  const { config, inference } = app;

  app.post<{ Querystring: ClassifyQuery }>(
    '/v1/classify',
    {
      schema: {
        tags: ['inference'],
        summary: 'Classify an image (ImageNet-1k)',
        description:
          'Same body forms as /v1/segment. The image is resized (short side 256) and centre-cropped to 224 ' +
          'like torchvision’s ImageNet evaluation transform.',
        consumes: IMAGE_CONSUMES,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            topk: { type: 'integer', minimum: 1, maximum: 1000, default: 5, description: 'How many classes to answer' },
            model: modelQueryParam,
          },
        },
        response: {
          200: {
            description: 'The model, whether it is trained, and the top-k classes, most probable first',
            content: { 'application/json': { schema: classificationSchema } },
          },
          ...IMAGE_ERROR_RESPONSES,
        },
      },
    },
    async (request, reply) => {
      const served = requireModel(request, reply, 'classification', request.query.model);
      const bytes = await readImageBody(request);
      const probe = await probeImage(bytes, { maxPixels: config.maxPixels });
      const plan = planClassify(probe, served, config);
      const answer = await inference.classify(
        { modelId: served.model.id, bytes, probe, topk: request.query.topk, maxPixels: config.maxPixels },
        admissionOf(request, reply, served, plan),
      );
      recordInference(request, served, answer);
      const { top, timings } = answer;
      if (reply.sent) return reply;
      return reply
        .type('application/json')
        .headers({ ...modelHeaders(served), 'x-inference-ms': timings.inferenceMs.toFixed(2) })
        .send({ model: served.model.id, trained: served.model.weights.trained, classes: top });
    },
  );
};

export const classifyRoutes = fp(classifyPlugin, { name: 'cityseg-classify', dependencies: ['cityseg-config', 'cityseg-inference', 'cityseg-admission', 'cityseg-image-body'], encapsulate: true });
