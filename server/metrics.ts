import fp from 'fastify-plugin';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus collectors of one app; each app owns its Registry so several apps (tests) never collide. */
export interface ServiceMetrics {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'status' | 'model'>;
  requestSeconds: Histogram<'method' | 'route'>;
  inferenceSeconds: Histogram<'model' | 'task'>;
  queueWaitSeconds: Histogram<'model' | 'task'>;
  batchSize: Histogram<'model'>;
  inFlight: Gauge;
  queueDepth: Gauge;
  inferenceRunning: Gauge;
  memoryBudget: Gauge<'kind'>;
  modelInfo: Gauge<'id' | 'model' | 'task' | 'arch' | 'engine' | 'backend' | 'trained'>;
  modelReloads: Counter<'result'>;
  workerTerminations: Counter;
}

export interface QueueGauges {
  depth: number;
  running: number;
}

/** The memory budget's accounting, in bytes. */
export interface BudgetGauges {
  total: number;
  capacity: number;
  reserved: number;
  peak: number;
}

const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const INFERENCE_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30];

export function createMetrics(queue: () => QueueGauges, budget: () => BudgetGauges = () => ({ total: 0, capacity: 0, reserved: 0, peak: 0 })): ServiceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'cityseg_' });
  return {
    registry,
    requests: new Counter({
      name: 'cityseg_http_requests_total',
      help: 'HTTP requests answered, by route template, status code and model (empty where the route has none)',
      labelNames: ['method', 'route', 'status', 'model'],
      registers: [registry],
    }),
    requestSeconds: new Histogram({
      name: 'cityseg_http_request_duration_seconds',
      help: 'HTTP request latency from arrival to the last byte handed to the socket',
      labelNames: ['method', 'route'],
      buckets: REQUEST_BUCKETS,
      registers: [registry],
    }),
    inferenceSeconds: new Histogram({
      name: 'cityseg_inference_duration_seconds',
      help: 'Time in the network forward pass alone (no decode, pre- or post-processing)',
      labelNames: ['model', 'task'],
      buckets: INFERENCE_BUCKETS,
      registers: [registry],
    }),
    queueWaitSeconds: new Histogram({
      name: 'cityseg_queue_wait_seconds',
      help: 'Time an admitted job waited in the inference queue (for a slot and its memory) before it started',
      labelNames: ['model', 'task'],
      buckets: INFERENCE_BUCKETS,
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: 'cityseg_batch_size',
      help: 'Images in the forward pass that served a request (dynamic batching; 1 when off)',
      labelNames: ['model'],
      buckets: [1, 2, 4, 8, 16, 32, 64],
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: 'cityseg_http_requests_in_flight',
      help: 'HTTP requests received and not yet answered',
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'cityseg_inference_queue_depth',
      help: 'Inference jobs waiting to start',
      registers: [registry],
      collect() {
        this.set(queue().depth);
      },
    }),
    inferenceRunning: new Gauge({
      name: 'cityseg_inference_running',
      help: 'Inference jobs running now',
      registers: [registry],
      collect() {
        this.set(queue().running);
      },
    }),
    memoryBudget: new Gauge({
      name: 'cityseg_memory_budget_bytes',
      help: 'Memory budget: total (the whole process), capacity (left for requests after the baseline), reserved (held by admitted requests now), peak (most reserved at once)',
      labelNames: ['kind'],
      registers: [registry],
      collect() {
        const gauges = budget();
        for (const kind of ['total', 'capacity', 'reserved', 'peak'] as const) this.set({ kind }, gauges[kind]);
      },
    }),
    modelInfo: new Gauge({
      name: 'cityseg_model_info',
      help: 'Loaded models (value always 1); trained="false" marks a seeded untrained initialisation',
      labelNames: ['id', 'model', 'task', 'arch', 'engine', 'backend', 'trained'],
      registers: [registry],
    }),
    modelReloads: new Counter({
      name: 'cityseg_model_reloads_total',
      help: 'Reloads of the models file (SIGHUP, POST /v1/admin/reload); on failure the previous models keep serving',
      labelNames: ['result'],
      registers: [registry],
    }),
    workerTerminations: new Counter({
      name: 'cityseg_worker_terminations_total',
      help: 'Inference worker threads terminated and replaced because a job ran CITYSEG_STUCK_JOB_MS past the moment its request stopped waiting',
      registers: [registry],
    }),
  };
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The app's Prometheus collectors. */
    metrics: ServiceMetrics;
  }
}

/** Decorates `metrics`, whose gauges read the inference queue and the memory budget when scraped. */
export const serviceMetrics = fp(
  async (app) => {
    const { inference, budget, budgetSource } = app;
    app.decorate(
      'metrics',
      createMetrics(
        () => ({ depth: inference.queue.depth, running: inference.queue.running }),
        () => ({ total: budgetSource.bytes, capacity: budget.capacity, reserved: budget.reserved, peak: budget.peak }),
      ),
    );
  },
  { name: 'cityseg-metrics', dependencies: ['cityseg-inference'] },
);
