import fp from 'fastify-plugin';
import type { FastifyPluginAsync } from 'fastify';
import { HttpProblem } from '../../server/problems.js';
import { findModel, MODEL_PARAMS, modelMetadata, modelNotReadyReason } from '../../server/oip/models.js';
import { PROBE_PATHS } from '../../server/request-gate.js';
import { oipErrors } from './error-form.js';

/** Extensions of the protocol cityseg implements (GET /v2 lists them; Triton names the binary one so). */
export const OIP_EXTENSIONS = ['binary_tensor_data'] as const;

const tensorSchema = {
  type: 'object',
  required: ['name', 'datatype', 'shape'],
  properties: { name: { type: 'string' }, datatype: { type: 'string' }, shape: { type: 'array', items: { type: 'integer' } } },
} as const;

/**
 * The Open Inference Protocol's probes (kserve/open-inference-protocol inference_rest.md): liveness and readiness,
 * open like /healthz and /readyz (Kubernetes probes them every few seconds: no API key, no rate limit), and the 404
 * `{"error"}` of every unrouted /v2 path. Readiness answers 200 when ready and 503 `{"error": why}` when not.
 */
const oipProbesPlugin: FastifyPluginAsync = async (app) => {
  await app.register(oipErrors);
  // Fastify keys not-found handlers by prefix: this one answers every unrouted /v2 path.
  await app.register(
    async (v2) => {
      v2.setNotFoundHandler((request) => {
        throw new HttpProblem('not-found', `no route ${request.method} ${request.url.split('?')[0]}`);
      });
    },
    { prefix: '/v2' },
  );
  app.get(
    PROBE_PATHS.oipLive,
    { schema: { tags: ['health'], summary: 'Open Inference Protocol: liveness', response: { 200: { type: 'object', properties: { live: { type: 'boolean' } } } } } },
    async () => ({ live: true }),
  );
  app.get(
    PROBE_PATHS.oipReady,
    { schema: { tags: ['health'], summary: 'Open Inference Protocol: readiness (every model)', response: { 200: { type: 'object', properties: { ready: { type: 'boolean' } } } } } },
    async () => {
      const reason = app.readiness.notReadyReason;
      if (reason !== null) throw new HttpProblem('not-ready', reason, 1);
      return { ready: true };
    },
  );
};

export const oipProbeRoutes = fp(oipProbesPlugin, { name: 'cityseg-oip-probes', dependencies: ['cityseg-readiness'], encapsulate: true });

/**
 * The Open Inference Protocol's metadata (an API route: in the authenticated scope): server metadata, model metadata
 * and model readiness, with and without `/versions/{v}`. Model readiness answers 503 `{"error": why}` when not ready.
 */
const oipMetadataPlugin: FastifyPluginAsync<{ version: string }> = async (app, { version }) => {
  await app.register(oipErrors);
  app.get(
    '/v2',
    {
      schema: {
        tags: ['models'],
        summary: 'Open Inference Protocol: server metadata',
        response: {
          200: {
            type: 'object',
            required: ['name', 'version', 'extensions'],
            properties: { name: { type: 'string' }, version: { type: 'string' }, extensions: { type: 'array', items: { type: 'string' } } },
          },
        },
      },
    },
    async () => ({ name: 'cityseg', version, extensions: [...OIP_EXTENSIONS] }),
  );

  const metadataSchema = {
    tags: ['models'],
    params: MODEL_PARAMS,
    summary: 'Open Inference Protocol: model metadata (inputs and outputs; -1 marks a variable dimension)',
    response: {
      200: {
        type: 'object',
        required: ['name', 'versions', 'platform', 'inputs', 'outputs'],
        properties: {
          name: { type: 'string' },
          versions: { type: 'array', items: { type: 'string' } },
          platform: { type: 'string' },
          inputs: { type: 'array', items: tensorSchema },
          outputs: { type: 'array', items: tensorSchema },
          parameters: {
            type: 'object',
            description: "The model's descriptor: arch, task, num_classes, labels; a classifier's transform (resize_short_side, crop_size)",
            additionalProperties: { anyOf: [{ type: 'string' }, { type: 'integer' }] },
          },
        },
      },
    },
  };
  const readySchema = {
    tags: ['health'],
    params: MODEL_PARAMS,
    summary: 'Open Inference Protocol: model readiness',
    response: { 200: { type: 'object', properties: { name: { type: 'string' }, ready: { type: 'boolean' } } } },
  };
  for (const path of ['/v2/models/:name', '/v2/models/:name/versions/:version']) {
    // The API document lists the unversioned paths; the versioned ones answer the same.
    const hide = path.includes('versions');
    app.get<{ Params: { name: string; version?: string } }>(path, { schema: { ...metadataSchema, hide } }, async (request) =>
      modelMetadata(findModel(app, request.params.name, request.params.version)),
    );
    app.get<{ Params: { name: string; version?: string } }>(`${path}/ready`, { schema: { ...readySchema, hide } }, async (request) => {
      const served = findModel(app, request.params.name, request.params.version);
      const reason = modelNotReadyReason(app, served);
      if (reason !== null) throw new HttpProblem('not-ready', `model "${served.model.id}" is not ready: ${reason}`, 1);
      return { name: served.model.id, ready: true };
    });
  }
};

export const oipMetadataRoutes = fp(oipMetadataPlugin, {
  name: 'cityseg-oip-metadata',
  dependencies: ['cityseg-inference', 'cityseg-readiness'],
  encapsulate: true,
});
