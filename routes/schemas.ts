import { INFERENCE_MODES } from '../segmentation/inference-modes/options.js';

/** JSON Schemas that more than one route's OpenAPI description uses: one definition each. */

/** An RGB colour, three bytes. */
export const rgbSchema = { type: 'array', items: { type: 'integer', minimum: 0, maximum: 255 }, minItems: 3, maxItems: 3 } as const;

/** Whether the model that made an answer is trained (every inference answer says so). */
export const trainedSchema = { type: 'boolean', description: 'false: the model is a seeded untrained initialisation and this answer is meaningless' } as const;

/** A size in pixels. */
export const dimsSchema = { type: 'object', required: ['height', 'width'], properties: { height: { type: 'integer' }, width: { type: 'integer' } } } as const;

/** How a segmentation runs (the request parameters of the same names): a model's defaults, or what a response ran. */
export const inferenceModeProperties = {
  mode: { type: 'string', enum: [...INFERENCE_MODES] },
  crop: dimsSchema,
  stride: dimsSchema,
  scales: { type: 'array', items: { type: 'number' } },
  flip: { type: 'boolean' },
} as const;
