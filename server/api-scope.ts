import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { adminRoutes } from '../routes/admin.js';
import { classifyRoutes } from '../routes/classify.js';
import { jobsRoutes } from '../routes/jobs.js';
import { modelsRoutes } from '../routes/models.js';
import { oipInferRoutes } from '../routes/oip/infer.js';
import { oipMetadataRoutes } from '../routes/oip/metadata.js';
import { segmentRoutes } from '../routes/segment.js';
import { admission } from './admission.js';
import { apiKeyAuth } from './api-key-auth.js';
import { clientShare } from './client-share.js';
import { imageBody } from './image-body.js';
import { apiRateLimit } from './rate-limit.js';

/**
 * The image routes under admission (in-flight cap, memory budget, deadlines): /v1/segment and /v1/classify with
 * their image body handling in their own scope, and the Open Inference Protocol's infer route, which reads a JSON
 * (+ binary) body under the same admission.
 */
async function inferenceRoutes(app: FastifyInstance): Promise<void> {
  const { config, inference, budget } = app;
  // Before admission: a request over its client's share is refused before it takes a place under the cap.
  await app.register(clientShare, { limit: config.clientInFlightLimit });
  await app.register(admission, { queue: inference.queue, budget, requestTimeoutMs: config.requestTimeoutMs, bodyLimit: config.bodyLimit });
  await app.register(async (uploadScope) => {
    await uploadScope.register(imageBody, { bodyLimit: config.bodyLimit });
    await uploadScope.register(segmentRoutes);
    await uploadScope.register(classifyRoutes);
  });
  await app.register(oipInferRoutes);
}

/**
 * The API in one encapsulated scope (Fastify's Encapsulation.md) whose hooks are its edge rules: the rate limit
 * (CITYSEG_RATE_LIMIT_MAX) on every route in it, then the API keys (CITYSEG_API_KEYS) on every route but the admin
 * one, which checks its own token. The limit's hook runs first, so failed key guesses are counted. A route registered
 * here is limited and keyed whatever its path; the probes, /metrics, the web page and /docs are registered outside.
 */
const apiScopePlugin: FastifyPluginAsync<{ version: string }> = async (limited, { version }) => {
  const { config } = limited;
  await limited.register(apiRateLimit);
  if (config.adminToken !== undefined) await limited.register(adminRoutes, { token: config.adminToken });
  await limited.register(async (api) => {
    await api.register(apiKeyAuth);
    if (config.apiKeys !== undefined) {
      api.log.info({ keys: config.apiKeys.sha256.length, file: config.apiKeys.file, metricsAuth: config.metricsAuth }, 'API keys required on the API routes');
    }
    await api.register(modelsRoutes);
    await api.register(oipMetadataRoutes, { version });
    await api.register(inferenceRoutes);
    // Video jobs in their own scope: their body is a stream written to disk under its own limit.
    await api.register(jobsRoutes);
  });
};

export const apiScope = fp(apiScopePlugin, {
  name: 'cityseg-api',
  // The docs plugin's onRoute hook must see these routes; the routes read the services.
  dependencies: ['cityseg-docs', 'cityseg-config', 'cityseg-inference', 'cityseg-readiness', 'cityseg-repository', 'cityseg-auth-failures'],
  encapsulate: true,
});
