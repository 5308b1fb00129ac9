import { createServer } from 'node:http';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { LoadedModel } from '../model/loaded-model.js';
import { docsRoutes } from '../routes/docs.js';
import { healthRoutes } from '../routes/health.js';
import { metricsRoute, requestMetrics } from '../routes/metrics.js';
import { oipProbeRoutes } from '../routes/oip/metadata.js';
import { webRoutes } from '../routes/web.js';
import { apiKeyAuth } from './api-key-auth.js';
import { apiScope } from './api-scope.js';
import { authFailureLimits } from './auth-failures.js';
import type { ServerConfig } from './config.js';
import { contentEncoding } from './content-encoding.js';
import { corsAllowList } from './cors.js';
import { problemErrorHandler } from './error-mapping.js';
import { bodyLimits } from './body-limits.js';
import { drainIdleConnections } from './connection-pressure.js';
import { closeGracefully } from './graceful-close.js';
import { gateRequests } from './request-gate.js';
import { answerFramingOutsideFastify, httpFraming } from './http-framing.js';
import { continueOnFirstRead, queryBeforeBody } from './expect-continue.js';
import { closingProblems, problemClientErrorHandler, problemFrameworkErrors } from './framework-errors.js';
import type { InferenceJob, InferenceResult } from './inference.js';
import type { JobRunner } from './inference-queue.js';
import { loggerOptions, requestIdFor, requestLogging } from './logging.js';
import { serviceMetrics } from './metrics.js';
import { serveModels } from './model-repository.js';
import type { ModelEntry } from './models-file.js';
import { PACKAGE_VERSION } from './package-version.js';
import { HttpProblem, problemSchema } from './problems.js';
import { readinessState } from './readiness.js';
import { securityHeaders } from './security-headers.js';
import { inferenceService, modelRepository, settings } from './services.js';

export interface AppDeps {
  /** Models to serve; the app is ready once they are warmed. Without them it stays not-ready until serveModels(). */
  models?: LoadedModel[];
  /** Where the JSON log lines go (default stdout); tests pass a stream to read them. */
  logStream?: NodeJS.WritableStream;
  /** Stands between the inference queue and the models' runners (e.g. a gate in tests), or replaces them. */
  runner?: (runners: JobRunner<InferenceJob, InferenceResult>) => JobRunner<InferenceJob, InferenceResult>;
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
      continueOnFirstRead(server);
      // The backstop of the longest request deadline: a video upload's, else an image request's.
      server.requestTimeout = Math.max(config.requestTimeoutMs, config.jobUploadTimeoutMs) + 5000;
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

  // The services, each a decorator owned by its plugin; fastify-plugin's `dependencies` check their order.
  await app.register(settings, { config });
  await app.register(readinessState);
  await app.register(inferenceService, { runner: deps.runner, modelEntries: deps.modelEntries });
  await app.register(serviceMetrics);
  await app.register(modelRepository, { modelEntries: deps.modelEntries });
  await app.register(authFailureLimits);
  app.addSchema(problemSchema);

  app.setErrorHandler(problemErrorHandler());
  app.setNotFoundHandler((request) => {
    throw new HttpProblem('not-found', `no route ${request.method} ${request.url.split('?')[0]}`);
  });

  // Every request: its log line and id first, then the network safety plugins, whose hooks apply to every route and
  // error registered after them; a request they refuse is not counted in flight.
  await app.register(requestLogging);
  await app.register(securityHeaders);
  await app.register(closingProblems);
  await app.register(httpFraming);
  await app.register(corsAllowList);
  // Before the body guard starts reading: a bad query is refused before a 100 Continue asks for the body.
  await app.register(queryBeforeBody);
  await app.register(bodyLimits, {
    requestTimeoutMs: config.requestTimeoutMs,
    bodyIdleTimeoutMs: config.bodyIdleTimeoutMs,
    bodyMinRate: config.bodyMinRate,
    bodyLimit: config.bodyLimit,
  });
  await app.register(contentEncoding);
  await app.register(docsRoutes, { version: PACKAGE_VERSION });
  await app.register(requestMetrics);

  // Public: the probes, the web page, /docs, and /metrics unless CITYSEG_METRICS_AUTH keys it.
  await app.register(healthRoutes);
  await app.register(oipProbeRoutes);
  await app.register(async (scope) => {
    if (config.metricsAuth) await scope.register(apiKeyAuth);
    await scope.register(metricsRoute);
  });
  await app.register(webRoutes);
  // Everything else is the API: rate-limited and keyed in its own scope.
  await app.register(apiScope, { version: PACKAGE_VERSION });

  if (deps.models) await serveModels(app, deps.models);
  return app;
}
