import fp from 'fastify-plugin';
import type { FastifyPluginAsync } from 'fastify';
import { probeImage } from '../segmentation/decode.js';
import { InvalidArgumentError } from '../segmentation/errors.js';
import {
  DEFAULT_INFERENCE_MODE,
  INFERENCE_MODES,
  inferenceModeFromText,
  type InferenceMode,
  type InferenceModeOptions,
} from '../segmentation/inference-modes/index.js';
import type { InferenceSize } from '../segmentation/preprocess.js';
import { serverTimingHeader } from '../segmentation/stages.js';
import type { SegmentOutput } from '../server/inference.js';
import { planSegment } from '../server/request-plan.js';
import { inferenceSizeOf } from '../server/model-registry.js';
import type { ModeDefaults } from '../server/models-file.js';
import { readImageBody } from '../server/image-body.js';
import { OUTPUT_FORMAT_NAMES, OVERLAY_FORMATS, type OutputFormatName, type OverlayFormat } from '../segmentation/output-formats.js';
import { prefersJson } from '../server/negotiate.js';
import { HttpProblem } from '../server/problems.js';
import { dimsSchema, inferenceModeProperties, rgbSchema, trainedSchema } from './schemas.js';
import { admissionOf, IMAGE_CONSUMES, IMAGE_ERROR_RESPONSES, modelHeaders, modelQueryParam, recordInference, requireModel } from './image-route.js';

type SegmentFormat = OutputFormatName;

export interface SegmentQuery {
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
 * The request's inference mode: each of mode, crop, stride, scales, flip the request leaves out is the model's default
 * (its models-file entry), else one whole pass; reported in the JSON like the CLI's. A value that cannot work is a
 * 400 naming the parameter, under `where` (the REST querystring, or the Open Inference Protocol's parameters).
 */
export function inferenceModeOf(
  query: SegmentQuery,
  maxForwardPasses: number,
  defaults: ModeDefaults = DEFAULT_INFERENCE_MODE,
  where = 'querystring',
): InferenceModeOptions {
  try {
    return inferenceModeFromText(query, defaults, maxForwardPasses);
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw new HttpProblem('bad-parameter', `${where}/${err.message}`);
    throw err;
  }
}

export const segmentationSchema = {
  $id: 'Segmentation',
  type: 'object',
  required: ['model', 'trained', 'width', 'height', 'inferenceSize', 'timings', 'classes'],
  properties: {
    model: { type: 'string' },
    trained: trainedSchema,
    width: { type: 'integer', description: 'Mask width = image width' },
    height: { type: 'integer', description: 'Mask height = image height' },
    inferenceSize: { ...dimsSchema, description: 'Size the network ran at' },
    inference: {
      type: 'object',
      description: 'How the segmentation ran, when a mode, crop, stride, scales or flip was asked for',
      required: ['mode', 'scales', 'flip', 'forwardPasses'],
      properties: {
        ...inferenceModeProperties,
        forwardPasses: { type: 'integer', description: 'Network runs: windows x scales x flips' },
      },
    },
    timings: {
      type: 'object',
      required: ['decodeMs', 'preprocessMs', 'inferenceMs', 'postprocessMs', 'encodeMs', 'totalMs'],
      properties: {
        decodeMs: { type: 'number' },
        preprocessMs: { type: 'number', description: 'Resize and normalise together' },
        resizeMs: { type: 'number', description: 'To the inference size (whole passes)' },
        normalizeMs: { type: 'number', description: 'RGB bytes to the engine input (whole passes)' },
        inferenceMs: { type: 'number', description: 'The forward pass alone (not waiting for the engine)' },
        postprocessMs: { type: 'number', description: 'Upsample to the image size and argmax' },
        encodeMs: { type: 'number', description: 'Per-class statistics (and RLE)' },
        queueMs: { type: 'number', description: 'Waiting in the inference queue for a slot and memory' },
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
          color: rgbSchema,
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

/** The query parameters of /v1/segment (the Open Inference Protocol's segmentation parameters read them too). */
export const segmentQuerystring = {
  type: 'object',
  additionalProperties: false,
  properties: {
    format: {
      type: 'string',
      enum: OUTPUT_FORMAT_NAMES,
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
    overlayFormat: { type: 'string', enum: OVERLAY_FORMATS, default: 'jpeg' },
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
  'X-Model-Trained': { type: 'string', enum: ['true', 'false'], description: 'false: the model is untrained and the answer meaningless' },
  'X-Inference-Ms': { type: 'number' },
  'Server-Timing': { type: 'string', description: 'Milliseconds per stage: queue, decode, resize, normalize, forward, upsample-argmax, encode' },
  'X-Mask-Width': { type: 'integer' },
  'X-Mask-Height': { type: 'integer' },
  'X-Request-Id': { type: 'string' },
} as const;

/** POST /v1/segment: an image in, a mask (PNG/JPEG) or per-class statistics (JSON) out. */
const segmentPlugin: FastifyPluginAsync = async (app) => {
  app.addSchema(segmentationSchema);
  const { config, inference } = app;

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
        querystring: segmentQuerystring,
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
      const served = requireModel(request, reply, 'segmentation', query.model);
      const mode = inferenceModeOf(query, config.maxForwardPasses, served.entry?.modeDefaults);
      const bytes = await readImageBody(request);
      const size = query.size ?? inferenceSizeOf(served, config.inferenceSize);
      const output: SegmentOutput = { format, alpha: query.alpha, overlayFormat: query.overlayFormat, rle: query.rle };
      // Header only (no pixels decoded): every limit is checked and the memory estimated before any work.
      const probe = await probeImage(bytes, { maxPixels: config.maxPixels });
      const plan = planSegment(probe, size, output, served, config, mode);
      const answer = await inference.segment(
        { modelId: served.model.id, bytes, probe, size, maxPixels: config.maxPixels, output, mode },
        admissionOf(request, reply, served, plan),
      );
      recordInference(request, served, answer);
      const { timings } = answer;
      // The request's deadline answered it already (503) while the job ran.
      if (reply.sent) return reply;

      if (answer.json) {
        const trained = served.model.weights.trained;
        return reply
          .type('application/json')
          .headers(modelHeaders(served))
          .send({ ...answer.json, trained, ...(answer.mode ? { inference: answer.mode } : {}), timings: { ...timings, totalMs: reply.elapsedTime } });
      }
      if (!answer.body) throw new TypeError(`the runner answered format=${format} without a body`);
      return reply
        .type(answer.contentType)
        .headers({
          ...modelHeaders(served),
          'x-inference-ms': timings.inferenceMs.toFixed(2),
          'server-timing': serverTimingHeader(timings),
          'x-mask-width': String(answer.width),
          'x-mask-height': String(answer.height),
        })
        .send(Buffer.from(answer.body.buffer, answer.body.byteOffset, answer.body.length));
    },
  );
};

export const segmentRoutes = fp(segmentPlugin, { name: 'cityseg-segment', dependencies: ['cityseg-config', 'cityseg-inference', 'cityseg-admission', 'cityseg-image-body'], encapsulate: true });
