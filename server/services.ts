/**
 * The service's state as Fastify decorators, each added by the plugin that owns it (Fastify's Decorators.md). A
 * plugin that reads one names its owner in fastify-plugin's `dependencies`, so a wrong registration order fails at
 * start instead of at the first request.
 */
import fp from 'fastify-plugin';
import type { ServerConfig } from './config.js';
import { InferenceService, inProcessRunner, type InferenceJob, type InferenceResult } from './inference.js';
import type { JobRunner } from './inference-queue.js';
import { MemoryBudget, requestCapacity, resolveMemoryBudget, type BudgetSource } from './memory-budget.js';
import { ModelRegistry } from './model-registry.js';
import { ModelRepository } from './model-repository.js';
import { RunnerSet, runnerCapacity } from './model-runner.js';
import type { ModelEntry } from './models-file.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The validated settings (server/config.ts). */
    config: ServerConfig;
  }
}

/** Decorates `config`. */
export const settings = fp<{ config: ServerConfig }>(
  async (app, { config }) => {
    app.decorate('config', config);
  },
  { name: 'cityseg-config' },
);

declare module 'fastify' {
  interface FastifyInstance {
    /** The models that answer requests, by name. */
    models: ModelRegistry;
    /** Each model's runner (worker pool or this thread); the repository adds and releases them. */
    runners: RunnerSet;
    /** The inference queue and its jobs. */
    inference: InferenceService;
    /** Working memory the requests share (its capacity is set once the models are loaded). */
    budget: MemoryBudget;
    /** The whole-process budget it was derived from. */
    budgetSource: BudgetSource;
  }
}

export interface InferenceOptions {
  /** Stands between the queue and the runners (e.g. a gate in tests), or replaces them. */
  runner?: (runners: JobRunner<InferenceJob, InferenceResult>) => JobRunner<InferenceJob, InferenceResult>;
  /** The models file's entries: their runners' capacities size the queue. */
  modelEntries?: ModelEntry[];
}

/** Decorates `models`, `runners`, `inference`, `budget` and `budgetSource`; closes the queue and the models on close. */
export const inferenceService = fp<InferenceOptions>(
  async (app, { runner, modelEntries }) => {
    const { config } = app;
    const models = new ModelRegistry();
    const budgetSource = resolveMemoryBudget(config.memoryBudget);
    // Until the models are loaded the baseline is unknown: the current RSS stands in for it.
    const budget = new MemoryBudget(requestCapacity(budgetSource.bytes, process.memoryUsage().rss));
    const concurrency = modelEntries
      ? modelEntries.reduce((total, entry) => total + runnerCapacity(entry), 0)
      : runnerCapacity(config);
    // Each model's jobs go to its own runner (lanes); models handed over in code run on this thread.
    const runners = new RunnerSet(inProcessRunner(models));
    const inference = new InferenceService(runner ? runner(runners) : runners, {
      concurrency,
      lanes: runners,
      limit: config.queueLimit,
      timeoutMs: config.requestTimeoutMs,
      admission: budget,
    });
    app.decorate('models', models);
    app.decorate('runners', runners);
    app.decorate('inference', inference);
    app.decorate('budget', budget);
    app.decorate('budgetSource', budgetSource);
    app.addHook('onClose', async () => {
      await inference.close();
      models.disposeAll();
    });
  },
  { name: 'cityseg-inference', dependencies: ['cityseg-config'] },
);

declare module 'fastify' {
  interface FastifyInstance {
    /** Loads the models onto their runners and reloads the models file. */
    repository: ModelRepository;
  }
}

/** Decorates `repository` (it reads the other services once it loads models). */
export const modelRepository = fp<{ modelEntries?: ModelEntry[] }>(
  async (app, { modelEntries }) => {
    app.decorate('repository', new ModelRepository(app, app.runners, modelEntries));
  },
  { name: 'cityseg-repository', dependencies: ['cityseg-config', 'cityseg-inference', 'cityseg-metrics', 'cityseg-readiness'] },
);
