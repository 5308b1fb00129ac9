import type { ServerConfig } from './config.js';
import type { InferenceService } from './inference.js';
import type { RequestLogFacts } from './logging.js';
import type { ServiceMetrics } from './metrics.js';
import type { ModelRegistry } from './model-registry.js';
import type { Readiness } from './readiness.js';

/** The service's state, shared by every route plugin through `app.cityseg`. */
export interface AppContext {
  config: ServerConfig;
  models: ModelRegistry;
  inference: InferenceService;
  metrics: ServiceMetrics;
  readiness: Readiness;
}

declare module 'fastify' {
  interface FastifyInstance {
    cityseg: AppContext;
  }
  interface FastifyRequest {
    /** Filled by the image routes; written into the request's single log line. */
    logFacts: RequestLogFacts;
  }
}
