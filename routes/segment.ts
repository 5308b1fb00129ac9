import type { FastifyPluginAsync } from 'fastify';
import { InvalidArgumentError } from '../segmentation/errors.js';
import {
  checkInferenceModeOptions,
  DEFAULT_INFERENCE_MODE,
  INFERENCE_MODES,
  parseScales,
  parseWindowSize,
  type InferenceMode,
  type InferenceModeOptions,
} from '../segmentation/inference-modes/index.js';
import { classStats } from '../segmentation/stats.js';
import type { InferenceSize } from '../segmentation/preprocess.js';
import { clientGoneSignal } from '../server/client-gone.js';
import { readImageBody } from '../server/image-body.js';
import { encodeMask, MASK_FORMATS, type MaskFormat, type OverlayFormat } from '../server/mask-output.js';
import { prefersJson } from '../server/negotiate.js';
import { HttpProblem } from '../server/problems.js';
import { IMAGE_CONSUMES, IMAGE_ERROR_RESPONSES, modelQueryParam, requireModel } from './image-route.js';

type SegmentFormat = MaskFormat | 'json';

interface SegmentQuery {
  format?: SegmentFormat;
  size?: InferenceSize;
  alpha: number;
  overlayFormat: OverlayFormat;
  rle: boolean;
  model?: string;
  mode?: InferenceMode;
  crop?: string;
  stride?: string;
  scales?: string;
  flip?: boolean;
}

const windowSizeParam = { type: 'string', pattern: '^[0-9]+x[0-9]+$' } as const;

/**
 * The request's inference mode (issue 14), or undefined for today's single whole pass; a value that cannot work is
 * an InvalidArgumentError naming the parameter (400).
 */
function inferenceModeOf(query: SegmentQuery, maxForwardPasses: number): InferenceModeOptions | undefined {
  if (query.mode === undefined && query.crop === undefined && query.stride === undefined && query.scales === undefined && !query.flip) {
    return undefined;
  }
  const d = DEFAULT_INFERENCE_MODE;
  try {
    const mode: InferenceModeOptions = {
      mode: query.mode ?? d.mode,
      crop: query.crop === undefined ? d.crop : parseWindowSize(query.crop, 'crop'),
      stride: query.stride === undefined ? d.stride : parseWindowSize(query.stride, 'stride'),
      scales: query.scales === undefined ? d.scales : parseScales(query.scales),
      flip: query.flip ?? false,
      maxForwardPasses,
    };
    checkInferenceModeOptions(mode);
    return mode;
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw new HttpProblem('bad-parameter', `querystring/${err.message}`);
    throw err;
  }
}

const rgb = { type: 'array', items: { type: 'integer' }, minItems: 3, maxItems: 3 } as const;
const dims = {
  type: 'object',
  required: ['width', 'height'],
  properties: { width: { type: 'integer' }, height: { type: 'integer' } },
} as const;

export const segmentationSchema = {
  $id: 'Segmentation',
  type: 'object',
  required: ['model', 'width', 'height', 'inferenceSize', 'timings', 'classes'],
  properties: {
    model: { type: 'string' },
    width: { type: 'integer', description: 'Mask width = image width' },
    height: { type: 'integer', description: 'Mask height = image height' },
    inferenceSize: { ...dims, description: 'Size the network ran at' },
    inference: {
      type: 'object',
      description: 'How the segmentation ran, when a mode, crop, stride, scales or flip was asked for',
      required: ['mode', 'scales', 'flip', 'forwardPasses'],
      properties: {
        mode: { type: 'string', enum: [...INFERENCE_MODES] },
        crop: dims,
        stride: dims,
        scales: { type: 'array', items: { type: 'number' } },
        flip: { type: 'boolean' },
        forwardPasses: { type: 'integer', description: 'Network runs: windows x scales x flips' },
      },
    },
    timings: {
      type: 'object',
      required: ['decodeMs', 'preprocessMs', 'inferenceMs', 'postprocessMs', 'totalMs'],
      properties: {
        decodeMs: { type: 'number' },
        preprocessMs: { type: 'number' },
        inferenceMs: { type: 'number' },
        postprocessMs: { type: 'number' },
        totalMs: { type: 'number', description: 'From the request’s arrival to this body, queue wait included' },
      },
    },
    classes: {
      type: 'array',
      description: 'Classes present in the mask, by pixel count',
      items: {
        type: 'object',
        required: ['index', 'id', 'name', 'color', 'pixels', 'fraction'],
        properties: {
          index: { type: 'integer', description: 'Output channel (Cityscapes trainId)' },
          id: { type: 'integer', description: 'Dataset label id (Cityscapes id)' },
          name: { type: 'string' },
          color: rgb,
          pixels: { type: 'integer' },
          fraction: { type: 'number' },
          rle: {
            type: 'object',
            description: 'COCO-style uncompressed-order RLE (column-major), counts as a COCO string',
            required: ['size', 'counts'],
            properties: { size: { type: 'array', items: { type: 'integer' } }, counts: { type: 'string' } },
          },
        },
      },
    },
  },
} as const;

const querystring = {
  type: 'object',
  additionalProperties: false,
  properties: {
    format: {
      type: 'string',
      enum: [...MASK_FORMATS, 'json'],
      description: 'Default color, or json when the Accept header prefers application/json',
    },
    size: {
      description: 'Inference long side in pixels (32..4096), or native; default from the server config',
      anyOf: [
        { type: 'integer', minimum: 32, maximum: 4096 },
        { type: 'string', enum: ['native'] },
      ],
    },
    alpha: { type: 'number', minimum: 0, maximum: 1, default: 0.5, description: 'Overlay opacity of the colours' },
    overlayFormat: { type: 'string', enum: ['jpeg', 'png'], default: 'jpeg' },
    rle: { type: 'boolean', default: false, description: 'Add an RLE of each class (format=json only)' },
    model: modelQueryParam,
    mode: { type: 'string', enum: [...INFERENCE_MODES], description: 'whole (default): one pass; slide: overlapping windows, logits averaged' },
    crop: { ...windowSizeParam, description: 'mode=slide: window HxW, default 512x1024' },
    stride: { ...windowSizeParam, description: 'mode=slide: step HxW between windows (at most the crop), default 341x683' },
    scales: {
      type: 'string',
      pattern: '^[0-9.]+(,[0-9.]+)*$',
      description: 'Test-time augmentation: ratios of the inference size, e.g. 0.5,0.75,1,1.25,1.5,1.75 (softmax averaged)',
    },
    flip: { type: 'boolean', description: 'Test-time augmentation: also run the horizontally flipped image' },
  },
} as const;

const imageResponseHeaders = {
  'X-Model': { type: 'string' },
  'X-Inference-Ms': { type: 'number' },
  'X-Mask-Width': { type: 'integer' },
  'X-Mask-Height': { type: 'integer' },
  'X-Request-Id': { type: 'string' },
} as const;

/** POST /v1/segment: an image in, a mask (PNG/JPEG) or per-class statistics (JSON) out. */
export const segmentRoutes: FastifyPluginAsync = async (app) => {
  app.addSchema(segmentationSchema);
  const { config, inference, metrics } = app.cityseg;

  app.post<{ Querystring: SegmentQuery }>(
    '/v1/segment',
    {
      schema: {
        tags: ['inference'],
        summary: 'Segment a street scene',
        description:
          'Body: the image (image/* or application/octet-stream) or multipart/form-data with field `image`. ' +
          'Masks have the image’s size: labelIds/trainIds are 8-bit grey PNGs of Cityscapes ids/trainIds, ' +
          'color is the Cityscapes palette, overlay blends it over the image.',
        querystring,
        headers: {
          type: 'object',
          properties: { accept: { type: 'string', description: 'application/json selects format=json' } },
        },
        consumes: IMAGE_CONSUMES,
        response: {
          200: {
            description: 'The mask, or JSON class statistics',
            headers: imageResponseHeaders,
            content: {
              'image/png': { schema: { type: 'string', format: 'binary' } },
              'image/jpeg': { schema: { type: 'string', format: 'binary' } },
              'application/json': { schema: { $ref: 'Segmentation#' } },
            },
          },
          ...IMAGE_ERROR_RESPONSES,
        },
      },
    },
    async (request, reply) => {
      const query = request.query;
      const format: SegmentFormat = query.format ?? (prefersJson(request.headers.accept) ? 'json' : 'color');
      if (query.rle && format !== 'json') {
        throw new HttpProblem('bad-parameter', `querystring/rle applies to format=json only, not format=${format}`);
      }
      const served = requireModel(app, 'segmentation', query.model);
      const labelSet = served.labelSet;
      if (!labelSet) throw new TypeError(`segmentation model ${served.model.id} has no label set`);
      const mode = inferenceModeOf(query, config.maxForwardPasses);
      const bytes = await readImageBody(request);

      const size = query.size ?? config.inferenceSize;
      const outcome = await inference.segment(
        { modelId: served.model.id, bytes, size, maxPixels: config.maxPixels, mode },
        clientGoneSignal(reply),
      );
      const { classMap, timings, inferenceSize } = outcome;
      request.logFacts = {
        model: served.model.id,
        imageWidth: classMap.width,
        imageHeight: classMap.height,
        inferenceMs: Math.round(timings.inferenceMs * 100) / 100,
      };
      metrics.inferenceSeconds.observe({ model: served.model.id, task: 'segmentation' }, timings.inferenceMs / 1000);

      if (format === 'json') {
        return reply.type('application/json').send({
          model: served.model.id,
          width: classMap.width,
          height: classMap.height,
          inferenceSize,
          ...(outcome.mode ? { inference: outcome.mode } : {}),
          timings: { ...timings, totalMs: reply.elapsedTime },
          classes: classStats(classMap, labelSet, { rle: query.rle }),
        });
      }
      const encoded = await encodeMask(format, outcome, labelSet, {
        alpha: query.alpha,
        overlayFormat: query.overlayFormat,
      });
      return reply
        .type(encoded.contentType)
        .headers({
          'x-model': served.model.id,
          'x-inference-ms': timings.inferenceMs.toFixed(2),
          'x-mask-width': String(classMap.width),
          'x-mask-height': String(classMap.height),
        })
        .send(encoded.body);
    },
  );
};
