import fp from 'fastify-plugin';
import helmet, { type HelmetOptions } from 'helmet';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { FastifyPluginAsync } from 'fastify';

/**
 * Content-Security-Policy of every response. The web page (public/) and Swagger UI (/docs) load their scripts and
 * styles from files, so neither inline script nor inline style is allowed; images come from the page itself, from
 * `blob:` (the uploaded image and the returned mask) and `data:` (icons in swagger-ui.css); video from the page and
 * `blob:` (a video job's result). Nothing may frame them.
 */
export const CONTENT_SECURITY_POLICY = {
  'default-src': ["'self'"],
  'base-uri': ["'self'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:', 'blob:'],
  'media-src': ["'self'", 'blob:'],
  'font-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'object-src': ["'none'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
} as const;

/** Where @fastify/swagger-ui serves Swagger UI (routes/docs.ts). */
const DOCS_PREFIX = '/docs';

/**
 * CSP hash sources of the `<style>` elements Swagger UI's standalone preset renders (its top-bar logo SVG holds one:
 * `.logo_small_svg__cls-2{fill:#fff}…`), read from the installed bundle so an upgrade keeps them in step. These
 * exact styles, and no other inline style, are allowed on /docs; no inline script is allowed anywhere.
 */
export function swaggerUiStyleHashes(): string[] {
  try {
    const require = createRequire(import.meta.url);
    const preset = require.resolve('@fastify/swagger-ui').replace(/index\.js$/, 'static/swagger-ui-standalone-preset.js');
    const source = readFileSync(preset, 'utf8');
    const styles = [...source.matchAll(/createElement\("style",null,"((?:[^"\\]|\\.)*)"\)/g)].map((match) => JSON.parse(`"${match[1]}"`) as string);
    return [...new Set(styles)].map((style) => `'sha256-${createHash('sha256').update(style).digest('base64')}'`);
  } catch {
    // Without the hashes the logo loses its colours; nothing else changes.
    return [];
  }
}

/**
 * Browser-facing headers on every answer (pages, API, errors) with helmet: `X-Content-Type-Options: nosniff`, the
 * CSP above (/docs: with Swagger UI's style hashes), `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer`,
 * helmet's cross-origin policies. Helmet's `upgrade-insecure-requests` is left out (the service is reached over plain
 * http on localhost and behind TLS-terminating proxies) and so is HSTS, which belongs to whoever terminates TLS for
 * the domain. Register first: headers are set in an onRequest hook, so errors thrown by later hooks carry them too.
 */
const securityHeadersPlugin: FastifyPluginAsync = async (app) => {
  const options = (directives: Record<string, readonly string[]>): HelmetOptions => ({
    contentSecurityPolicy: { useDefaults: false, directives: { ...directives } },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: false,
  });
  // Each policy is built once: @fastify/helmet rebuilt helmet and re-parsed the CSP on every request, a tenth of
  // the main thread's time for a refused request (500 connections at once: 55 of 641 ms).
  const pages = helmet(options(CONTENT_SECURITY_POLICY));
  const docs = helmet(options({ ...CONTENT_SECURITY_POLICY, 'style-src': [...CONTENT_SECURITY_POLICY['style-src'], ...swaggerUiStyleHashes()] }));
  app.addHook('onRequest', (request, reply, done) => {
    const headers = request.routeOptions.url?.startsWith(DOCS_PREFIX) ? docs : pages;
    headers(request.raw, reply.raw, (error) => done(error as Error | undefined));
  });
};

export const securityHeaders = fp(securityHeadersPlugin, { name: 'cityseg-security-headers' });

/**
 * Headers for the few answers written before any hook runs (Node's parser errors, undecodable URLs): no content
 * may be sniffed, loaded or framed from an error body.
 */
export const ERROR_RESPONSE_HEADERS = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
} as const;
