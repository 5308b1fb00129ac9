import type { AuthFailureLimiter } from './auth-failures.js';
import type { ServerConfig } from './config.js';
import type { InferenceService } from './inference.js';
import type { RequestLogFacts } from './logging.js';
import type { ServiceMetrics } from './metrics.js';
import type { BudgetSource, MemoryBudget } from './memory-budget.js';
import type { ModelRegistry } from './model-registry.js';
import type { ModelRepository } from './model-repository.js';
import type { Readiness } from './readiness.js';

/** The service's state, shared by every route plugin through `app.cityseg`. */
export interface AppContext {
  config: ServerConfig;
  models: ModelRegistry;
  inference: InferenceService;
  metrics: ServiceMetrics;
  readiness: Readiness;
  /** Working memory the requests share (its capacity is set once the models are loaded). */
  budget: MemoryBudget;
  /** The whole-process budget it was derived from. */
  budgetSource: BudgetSource;
  /** Loads the models onto their runners and reloads the models file. */
  repository: ModelRepository;
  /** Wrong API keys and admin tokens, counted per client address. */
  authFailures: AuthFailureLimiter;
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
