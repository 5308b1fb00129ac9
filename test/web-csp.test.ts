/**
 * The Content-Security-Policy in a real browser: the web page and Swagger UI (/docs) work under it with no
 * violation, and neither can be framed. Debian's Chromium through playwright-core, as test/web-page.test.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM_SKIP, launchChromium } from './browser-helpers.js';
import { buildApp } from '../server/app.js';
import { testConfig } from './server-helpers.js';

const TIMEOUT_MS = 60_000;
const skip = CHROMIUM_SKIP;

let app: FastifyInstance;
let browser: Browser;
let baseUrl: string;

/** A fresh page that records CSP violations (the DOM event and Chromium's console line) and script errors. */
async function watchedPage(): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      console.error(`Refused to load (securitypolicyviolation) ${event.violatedDirective} ${event.blockedURI}`);
    });
  });
  return { page, problems };
}

before(async () => {
  if (skip) return;
  // No models: the page and the docs must work under the CSP whatever the API answers.
  app = await buildApp(testConfig({ CITYSEG_CLASSIFIER_ARCH: 'none' }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  assert.ok(address && typeof address === 'object');
  baseUrl = `http://127.0.0.1:${address.port}`;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await app?.close();
});

test('the web page loads its script and style under the CSP without a violation', { skip }, async () => {
  const { page, problems } = await watchedPage();
  await page.goto(`${baseUrl}/`, { waitUntil: 'networkidle' });
  // app.js ran (it fills the model panel) and style.css applied (the skip link is moved off-screen).
  await page.waitForFunction(() => !document.querySelector('#model-info dd')?.textContent?.includes('loading'), null, { timeout: TIMEOUT_MS });
  const skipLinkLeft = await page.$eval('.skip-link', (node) => node.getBoundingClientRect().left);
  assert.ok(skipLinkLeft < 0, `style.css not applied: skip link at x=${skipLinkLeft}`);
  assert.deepEqual(problems, []);
});

test('Swagger UI at /docs renders every operation under the CSP without a violation', { skip }, async () => {
  const { page, problems } = await watchedPage();
  await page.goto(`${baseUrl}/docs`, { waitUntil: 'networkidle' });
  await page.waitForSelector('.opblock', { timeout: TIMEOUT_MS });
  const paths = await page.$$eval('.opblock-summary-path', (nodes) => nodes.map((node) => node.textContent?.replace(/\u200b/g, '')));
  for (const path of ['/v1/segment', '/v1/classify', '/v1/models', '/healthz', '/readyz', '/metrics']) {
    assert.ok(paths.includes(path), `/docs lists ${paths.join(', ')} but not ${path}`);
  }
  assert.deepEqual(problems, []);
});

test('another site cannot frame the page or the docs', { skip }, async () => {
  // The framing page comes from a second local server: another origin, as a hostile site would be.
  const framer = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://x').searchParams.get('path') ?? '/';
    response.writeHead(200, { 'content-type': 'text/html' }).end(`<iframe src="${baseUrl}${path}" width="400" height="300"></iframe>`);
  });
  framer.listen(0, '127.0.0.1');
  await once(framer, 'listening');
  const { port } = framer.address() as AddressInfo;
  try {
    const { page, problems } = await watchedPage();
    for (const path of ['/', '/docs']) {
      problems.length = 0;
      await page.goto(`http://127.0.0.1:${port}/?path=${encodeURIComponent(path)}`, { waitUntil: 'load' });
      const frame = page.frames().find((candidate) => candidate !== page.mainFrame());
      assert.ok(frame, 'no iframe');
      // A refused frame shows Chromium's error page instead of ours (on a loaded machine it may get there after 'load').
      await frame.waitForURL(/^(chrome-error:|http)/, { timeout: 15_000 });
      assert.equal(frame.url(), 'chrome-error://chromewebdata/', `${path} was framed`);
      assert.ok(problems.some((line) => /frame-ancestors 'none'/.test(line)), problems.join('\n'));
    }
  } finally {
    framer.close();
  }
});
