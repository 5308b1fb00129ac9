import { createServer } from 'node:http';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { LoadedModel } from '../model/loaded-model.js';
import { classifyRoutes } from '../routes/classify.js';
import { docsRoutes } from '../routes/docs.js';
import { healthRoutes } from '../routes/health.js';
import { jobsRoutes } from '../routes/jobs.js';
import { metricsRoutes } from '../routes/metrics.js';
import { modelsRoutes } from '../routes/models.js';
import { oipInferRoutes } from '../routes/oip/infer.js';
import { oipMetadataRoutes } from '../routes/oip/metadata.js';
import { segmentRoutes } from '../routes/segment.js';
import { webRoutes } from '../routes/web.js';
import { apiKeyAuth } from './api-key-auth.js';
import { apiKeyVerifier } from './api-keys.js';
import { AuthFailureLimiter } from './auth-failures.js';
import { clientOf, clientShare } from './client-share.js';
import type { ServerConfig } from './config.js';
import { contentEncoding } from './content-encoding.js';
import './context.js';
import { corsAllowList } from './cors.js';
import { problemFor } from './error-mapping.js';
import { admission } from './admission.js';
import { bodyLimits } from './body-limits.js';
import { drainIdleConnections } from './connection-pressure.js';
import { closeGracefully } from './graceful-close.js';
import { gateRequests } from './request-gate.js';
import { answerFramingOutsideFastify, httpFraming } from './http-framing.js';
import { closingProblems, problemClientErrorHandler, problemFrameworkErrors } from './framework-errors.js';
import { imageBody } from './image-body.js';
import { MemoryBudget, requestCapacity, resolveMemoryBudget } from './memory-budget.js';
import { InferenceService, inProcessRunner, type InferenceJob, type InferenceResult } from './inference.js';
import type { JobRunner } from './inference-queue.js';
import { logRequestCompleted, loggerOptions, REQUEST_ID_HEADER, requestIdFor } from './logging.js';
import { createMetrics } from './metrics.js';
import { ModelRegistry } from './model-registry.js';
import { ModelRepository, serveModels } from './model-repository.js';
import { RunnerSet, runnerCapacity } from './model-runner.js';
import type { ModelEntry } from './models-file.js';
import { adminRoutes } from '../routes/admin.js';
import { PACKAGE_VERSION } from './package-version.js';
import { HttpProblem, PROBLEM_CONTENT_TYPE, problemSchema } from './problems.js';
import { apiRateLimit } from './rate-limit.js';
import { Readiness } from './readiness.js';
import { securityHeaders } from './security-headers.js';


export interface AppDeps {
  /** Models to serve; the app is ready once they are warmed. Without them it stays not-ready until serveModels(). */
  models?: LoadedModel[];
  /** Where the JSON log lines go (default stdout); tests pass a stream to read them. */
  logStream?: NodeJS.WritableStream;
  /** Replaces the in-process inference runner (e.g. a worker pool, or a slow runner in tests). */
  runner?: (models: ModelRegistry) => JobRunner<InferenceJob, InferenceResult>;
  /** The models file's entries, read before the app is built: their runners' capacities size the queue. */
  modelEntries?: ModelEntry[];
}

/** The whole HTTP service without a listening socket: routes, errors, metrics, docs, the web page. */
export async function buildApp(config: ServerConfig, deps: AppDeps = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: loggerOptions(config.logLevel, deps.logStream),
    // Fastify's two lines per request are replaced by our single onResponse line.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: false,
    genReqId: requestIdFor,
    bodyLimit: config.bodyLimit,
    // Node's server, with requests handed to Fastify at most REQUESTS_PER_TURN per turn of the event loop
    // (probes at once) and the time limits of the socket layer: headers, the whole request as Node's
    // backstop (our own deadline answers first, with a problem body), idle keep-alive connections; checked every
    // second.
    serverFactory: (handler) => {
      // A missing Host is refused by the httpFraming plugin, as a problem with the security headers.
      const server = createServer({ headersTimeout: config.headersTimeoutMs, connectionsCheckingInterval: 1000, requireHostHeader: false }, gateRequests(handler));
      answerFramingOutsideFastify(server);
      closeGracefully(server);
      server.requestTimeout = config.requestTimeoutMs + 5000;
      server.keepAliveTimeout = config.keepAliveTimeoutMs;
      return server;
    },
    // On close: closingProblems refuses new requests with a 503 problem, in-flight ones finish, keep-alive
    // sockets are closed once they stay idle (closeGracefully).
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    // Errors answered before routing (parser errors, undecodable URLs) are problem+json too.
    clientErrorHandler: problemClientErrorHandler,
    frameworkErrors: problemFrameworkErrors,
    // Unknown query parameters are a 400 (a misspelt `fromat=json` must not silently answer a PNG).
    ajv: { customOptions: { removeAdditional: false } },
  });

  app.server.maxConnections = config.maxConnections;
  drainIdleConnections(app.server, config.maxConnections);

  const models = new ModelRegistry();
  const budgetSource = resolveMemoryBudget(config.memoryBudget);
  // Until the models are loaded the baseline is unknown: the current RSS stands in for it.
  const budget = new MemoryBudget(requestCapacity(budgetSource.bytes, process.memoryUsage().rss));
  const concurrency = deps.modelEntries
    ? deps.modelEntries.reduce((total, entry) => total + runnerCapacity(entry), 0)
    : runnerCapacity(config);
  // Each model's jobs go to its own runner (lanes); models handed over in code run on this thread.
  const runners = new RunnerSet(inProcessRunner(models));
  const inference = new InferenceService(deps.runner ? deps.runner(models) : runners, {
    concurrency,
    lanes: runners,
    limit: config.queueLimit,
    timeoutMs: config.requestTimeoutMs,
    admission: budget,
  });
  const metrics = createMetrics(
    () => ({ depth: inference.queue.depth, running: inference.queue.running }),
    () => ({ total: budgetSource.bytes, capacity: budget.capacity, reserved: budget.reserved, peak: budget.peak }),
  );
  const readiness = new Readiness();
  // The repository reads app.cityseg only once it loads models, after this decoration.
  const repository = new ModelRepository(app, runners, deps.modelEntries);
  const authFailures = new AuthFailureLimiter();
  app.decorate('cityseg', { config, models, inference, metrics, readiness, budget, budgetSource, repository, authFailures });
  app.decorateRequest('logFacts', null as never);
  app.addSchema(problemSchema);

  app.setErrorHandler((error, request, reply) => {
    const problem = problemFor(error);
    // Only bugs get a stack in the log; client mistakes and 503s are on the request line already.
    if (problem.kind === 'internal-error') request.log.error({ err: error }, 'request failed');
    if (problem.retryAfterSeconds !== undefined) reply.header('retry-after', String(problem.retryAfterSeconds));
    return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem.toProblem());
  });
  app.setNotFoundHandler((request) => {
    throw new HttpProblem('not-found', `no route ${request.method} ${request.url.split('?')[0]}`);
  });

  app.addHook('onRequest', async (request, reply) => {
    request.logFacts = {};
    reply.header(REQUEST_ID_HEADER, request.id);
  });
  app.addHook('onResponse', async (request, reply) => logRequestCompleted(request, reply, request.logFacts));

  app.addHook('onClose', async () => {
    await inference.close();
    models.disposeAll();
  });

  // Network safety first: their hooks must apply to every route and error registered after them; the rate limit
  // before the API keys, so failed key guesses are counted.
  await app.register(securityHeaders);
  await app.register(closingProblems);
  await app.register(httpFraming);
  await app.register(corsAllowList);
  // Before the body decoder: body time limits meter the bytes on the wire.
  await app.register(bodyLimits, {
    requestTimeoutMs: config.requestTimeoutMs,
    bodyIdleTimeoutMs: config.bodyIdleTimeoutMs,
    bodyMinRate: config.bodyMinRate,
    bodyLimit: config.bodyLimit,
  });
  await app.register(contentEncoding);
  await app.register(apiRateLimit);
  await app.register(apiKeyAuth);
  // docs first: its onRoute hook must see every route registered after it.
  await app.register(docsRoutes, { version: PACKAGE_VERSION });
  await app.register(metricsRoutes);
  await app.register(healthRoutes);
  await app.register(modelsRoutes);
  await app.register(oipMetadataRoutes, { version: PACKAGE_VERSION });
  if (config.adminToken !== undefined) await app.register(adminRoutes, { token: config.adminToken });
  await app.register(async (imageScope) => {
    // Before admission: a request over its client's share is refused before it takes a place under the cap.
    const verifier = config.apiKeys === undefined ? undefined : apiKeyVerifier(config.apiKeys);
    await imageScope.register(clientShare, { limit: config.clientInFlightLimit, clientOf: (request) => clientOf(request, verifier) });
    await imageScope.register(admission, { queue: inference.queue, budget, requestTimeoutMs: config.requestTimeoutMs, bodyLimit: config.bodyLimit });
    // The image upload routes' body handling stays in their own scope: the Open Inference Protocol's infer route
    // reads a JSON (+ binary) body under the same admission.
    await imageScope.register(async (uploadScope) => {
      await uploadScope.register(imageBody, { bodyLimit: config.bodyLimit });
      await uploadScope.register(segmentRoutes);
      await uploadScope.register(classifyRoutes);
    });
    await imageScope.register(oipInferRoutes);
  });
  // Video jobs in their own scope: their body is a stream written to disk under its own limit.
  await app.register(jobsRoutes);
  await app.register(webRoutes);

  if (deps.models) await serveModels(app, deps.models);
  return app;
}
