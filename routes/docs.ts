import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyPluginAsync } from 'fastify';
import { IMAGE_UPLOAD_BODY } from './image-route.js';

/** Route prefixes kept out of the API document: the docs themselves and the web page's static files. */
const UNDOCUMENTED = ['/docs', '/openapi.json'];

/**
 * OpenAPI 3 from the routes' own JSON schemas: GET /openapi.json, and Swagger UI at /docs.
 * Registered before the API routes (fastify-plugin, so its onRoute hook sees them all).
 */
const docsPlugin: FastifyPluginAsync<{ version: string }> = async (app, { version }) => {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'cityseg',
        description:
          'Street-scene semantic segmentation (MobileNetV3 + LR-ASPP) and ImageNet classification. ' +
          'Errors are application/problem+json.',
        version,
      },
      tags: [
        { name: 'inference', description: 'Segment and classify images' },
        { name: 'models', description: 'What is loaded' },
        { name: 'health', description: 'Liveness and readiness probes' },
        { name: 'operations', description: 'Metrics' },
      ],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
    transform: ({ schema, url }) => {
      if (UNDOCUMENTED.some((prefix) => url.startsWith(prefix))) return { schema: { ...schema, hide: true }, url };
      // Image bodies are checked by the handler, not by a schema; document them here.
      if (schema?.consumes?.includes('multipart/form-data')) return { schema: { ...schema, body: IMAGE_UPLOAD_BODY }, url };
      return { schema, url };
    },
  });

  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
};

export const docsRoutes = fp(docsPlugin, { name: 'cityseg-docs' });
