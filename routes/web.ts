import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';

/**
 * public/ sits at the package root: one level above routes/ when run from source (tsx),
 * two levels above dist/routes/ when compiled.
 */
export function findPublicDir(): string | undefined {
  return ['../public/', '../../public/']
    .map((relative) => fileURLToPath(new URL(relative, import.meta.url)))
    .find((dir) => existsSync(`${dir}index.html`));
}

/** The web page: public/index.html at `/` and the rest of public/ beside it (when public/ exists). */
export const webRoutes: FastifyPluginAsync<{ root?: string }> = async (app, { root = findPublicDir() }) => {
  if (root === undefined) {
    app.log.warn('public/index.html not found: GET / answers 404');
    return;
  }
  await app.register(fastifyStatic, { root, index: ['index.html'], wildcard: false, schemaHide: true });
};
