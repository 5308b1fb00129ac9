import fp from 'fastify-plugin';
import type { FastifyPluginAsync } from 'fastify';
import { problemErrorHandler } from '../../server/error-mapping.js';
import { OIP_ERROR_FORM } from '../../server/oip/errors.js';

/**
 * Every error of the Open Inference Protocol's routes in the protocol's form: the scope's error handler answers
 * whatever they throw (a route, the API-key and rate-limit hooks, admission's 503s, Ajv's validation) as
 * `{"error": detail}` in application/json, with the problem's status and headers (Retry-After, WWW-Authenticate).
 * Triton's and KServe's clients read `error`; its sentence is the problem's `detail`, as /v1 answers. Wrapped with
 * fastify-plugin: it sets the handler of the scope that registers it.
 */
const errorFormPlugin: FastifyPluginAsync = async (app) => {
  app.setErrorHandler(problemErrorHandler(OIP_ERROR_FORM));
};

export const oipErrors = fp(errorFormPlugin, { name: 'cityseg-oip-errors' });
