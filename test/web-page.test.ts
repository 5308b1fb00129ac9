import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM_SKIP, launchChromium } from './browser-helpers.js';
import sharp from 'sharp';
import { listeningAppWithDefaultModels } from './server-helpers.js';
import { loadConfig } from '../server/config.js';
import { UNTRAINED_ENV } from './cli-helpers.js';

const ARTIFACTS = new URL('./artifacts/', import.meta.url);
const IMAGE = { width: 160, height: 96 };
const TIMEOUT_MS = 60_000;
const skip = CHROMIUM_SKIP;

let app: FastifyInstance;
let browser: Browser;
let page: Page;
let baseUrl: string;
const pageErrors: string[] = [];
/** Every request the page made to POST /v1/segment. */
const segmentRequests: string[] = [];

/** A small street-like frame: sky gradient over a grey road, with a dark "car" block. */
async function streetPng(): Promise<Buffer> {
  const { width, height } = IMAGE;
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const car = x > 60 && x < 110 && y > 50 && y < 75;
      const rgb = car ? [30, 30, 40] : y < height / 2 ? [110 + y, 160 + y, 230] : [90 + (x % 7), 90, 95];
      pixels.set(rgb, (y * width + x) * 3);
    }
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

/** Same request the page makes, straight to the API, to compare what the page shows with the truth. */
async function apiJson(path: string, body: Buffer, contentType: string): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${baseUrl}${path}`, {
    method: 'POST',
    body: new Uint8Array(body),
    headers: { 'content-type': contentType },
  });
  return { status: response.status, json: await response.json() };
}

async function waitForIdle(): Promise<void> {
  await page.waitForSelector('#results[aria-busy="false"], #results[hidden]', { state: 'attached', timeout: TIMEOUT_MS });
  await page.waitForFunction(() => document.getElementById('results')?.getAttribute('aria-busy') !== 'true', null, {
    timeout: TIMEOUT_MS,
  });
}

before(async () => {
  if (skip) return;
  const config = loadConfig({
    CITYSEG_ARCH: 'lraspp_mobilenet_v3_small',
    CITYSEG_CLASSIFIER_ARCH: 'mobilenet_v3_small',
    CITYSEG_INFERENCE_SIZE: '256',
    LOG_LEVEL: 'silent',
    ...UNTRAINED_ENV,
  });
  ({ app, baseUrl } = await listeningAppWithDefaultModels(config));

  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('request', (req) => {
    if (new URL(req.url()).pathname === '/v1/segment') segmentRequests.push(req.url());
  });
  await page.goto(baseUrl, { waitUntil: 'networkidle' });
});

after(async () => {
  await browser?.close();
  await app?.close();
});

test('the page names the model and flags the seeded weights as untrained', { skip }, async () => {
  await page.waitForSelector('#model-info .model-id', { timeout: TIMEOUT_MS });
  const ids = await page.$$eval('#model-info .model-id', (nodes) => nodes.map((node) => node.textContent));
  assert.deepEqual(ids, ['lraspp_mobilenet_v3_small', 'mobilenet_v3_small']);
  const badges = await page.$$eval('#model-info .badge', (nodes) => nodes.map((node) => node.textContent));
  assert.deepEqual(badges, ['untrained', 'untrained']);
  // The descriptor's facts as /v1/models reports them.
  const titles = await page.$$eval('#model-info dd', (nodes) => nodes.map((node) => node.getAttribute('title') ?? ''));
  assert.match(titles[0], /^lraspp_mobilenet_v3_small · 19 classes \(cityscapes\) · /);
  assert.match(titles[1], /^mobilenet_v3_small · 1000 classes \(imagenet\) · /);
  assert.equal(await page.isVisible('#untrained-warning'), true);
  assert.equal(
    (await page.innerText('#untrained-warning')).trim(),
    'lraspp_mobilenet_v3_small and mobilenet_v3_small are untrained, so their answers are meaningless: restart with --weights file.pth --classifier-weights file.pth.',
  );
});

test('every control is labelled and the file picker is reachable with the keyboard', { skip }, async () => {
  const unlabelled = await page.$$eval('input, select', (nodes) =>
    nodes.filter((node) => (node as HTMLInputElement).labels?.length === 0).map((node) => node.id || node.outerHTML),
  );
  assert.deepEqual(unlabelled, []);
  const focused: string[] = [];
  for (let press = 0; press < 4 && !focused.includes('image-input'); press++) {
    await page.keyboard.press('Tab');
    focused.push(await page.evaluate(() => document.activeElement?.id ?? ''));
  }
  assert.ok(focused.includes('image-input'), `Tab reached ${focused.join(', ')} but not the file input`);
});

test('an uploaded image shows its mask at the image size, the legend and the top-5', { skip }, async () => {
  const png = await streetPng();
  await page.setInputFiles('#image-input', { name: 'street.png', mimeType: 'image/png', buffer: png });
  await waitForIdle();
  assert.equal(await page.isVisible('#error'), false, await page.innerText('#error').catch(() => ''));

  const mask = await page.$eval('#mask-image', (img) => {
    const image = img as HTMLImageElement;
    return { width: image.naturalWidth, height: image.naturalHeight, alt: image.alt };
  });
  assert.deepEqual({ width: mask.width, height: mask.height }, IMAGE);
  assert.match(mask.alt, /^Colour mask of street\.png, 160 × 96 pixels$/);
  assert.equal(await page.$eval('#input-image', (img) => (img as HTMLImageElement).alt), 'Input image: street.png');

  // The legend shows exactly the classes the json format reports, largest first, with their shares.
  const truth = (await apiJson('/v1/segment?format=json', png, 'image/png')).json as {
    width: number;
    classes: { name: string; pixels: number; fraction: number }[];
  };
  const present = truth.classes.filter((c) => c.pixels > 0).sort((a, b) => b.pixels - a.pixels);
  const rows = await page.$$eval('#legend tbody tr', (trs) =>
    trs.map((tr) => ({ name: tr.querySelector('.class-name')?.textContent, share: tr.querySelector('.share')?.textContent })),
  );
  assert.deepEqual(rows.map((row) => row.name), present.map((c) => c.name));
  const shares = rows.map((row) => Number.parseFloat(row.share ?? 'NaN'));
  shares.forEach((share, i) => assert.ok(Math.abs(share - present[i].fraction * 100) <= 0.05, `${rows[i].name}: ${share} %`));
  const total = shares.reduce((sum, share) => sum + share, 0);
  // Each share is rounded to at most 0.05 %, so the sum is 100 % within rows x 0.05.
  assert.ok(Math.abs(total - 100) <= 0.05 * rows.length + 1e-9, `legend shares sum to ${total} %`);

  const top5 = await page.$$eval('#top5 li .label', (nodes) => nodes.map((node) => node.textContent));
  assert.equal(top5.length, 5);
  const classified = (await apiJson('/v1/classify?topk=5', png, 'image/png')).json as { classes: { label: string }[] };
  assert.deepEqual(top5, classified.classes.map((c) => c.label));

  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: new URL('web-page.png', ARTIFACTS).pathname, fullPage: true });
});

/** The pixels of the page's mask image (a PNG the page drew), as RGB. */
async function shownMaskRgb(): Promise<Buffer> {
  // Read through a canvas: the page's CSP (connect-src 'self') rightly refuses a fetch of the image's data URL.
  const base64 = await page.$eval('#mask-image', (img) => {
    const image = img as HTMLImageElement;
    const canvas = document.createElement('canvas');
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
    canvas.getContext('2d')?.drawImage(image, 0, 0);
    return canvas.toDataURL('image/png').split(',')[1];
  });
  return sharp(Buffer.from(base64, 'base64')).removeAlpha().raw().toBuffer();
}

/** The server's answer in `format`, as RGB pixels (grey expanded). */
async function serverRgb(format: string, png: Buffer): Promise<Buffer> {
  const response = await fetch(`${baseUrl}/v1/segment?format=${format}`, { method: 'POST', body: new Uint8Array(png), headers: { 'content-type': 'image/png' } });
  assert.equal(response.status, 200);
  return sharp(Buffer.from(await response.arrayBuffer())).toColourspace('srgb').removeAlpha().raw().toBuffer();
}

test('views switch locally: one request to /v1/segment per image, pixels equal to the server\'s own encoders', { skip }, async () => {
  const png = await streetPng();
  segmentRequests.length = 0;
  await page.setInputFiles('#image-input', { name: 'street.png', mimeType: 'image/png', buffer: png });
  await waitForIdle();
  await page.waitForFunction(() => (document.getElementById('mask-image') as HTMLImageElement).complete);
  assert.ok((await shownMaskRgb()).equals(await serverRgb('color', png)), 'the colour view differs from format=color');

  for (const [format, caption] of [['overlay', 'Overlay'], ['labelIds', 'Label IDs']] as const) {
    await page.check(`input[name="format"][value="${format}"]`);
    // The caption changes when the view has been drawn (locally).
    await page.waitForFunction((want) => document.getElementById('mask-caption')?.textContent === want, caption);
    await page.waitForFunction(() => (document.getElementById('mask-image') as HTMLImageElement).complete);
    const size = await page.$eval('#mask-image', (img) => ({
      width: (img as HTMLImageElement).naturalWidth,
      height: (img as HTMLImageElement).naturalHeight,
    }));
    assert.deepEqual(size, IMAGE, format);
    assert.equal(await page.innerText('#mask-caption'), caption);
    if (format === 'overlay') {
      // Moving the opacity slider redraws too, still without a request.
      await page.$eval('#alpha-input', (input) => {
        (input as HTMLInputElement).value = '0.8';
        input.dispatchEvent(new Event('input', { bubbles: true }));
      });
    }
  }
  // The label ids view holds the raw ids (brightened by CSS only): equal to format=labelIds.
  assert.ok((await shownMaskRgb()).equals(await serverRgb('labelIds', png)), 'the label ids view differs from format=labelIds');
  assert.equal(await page.isVisible('#alpha-control'), false, 'the opacity slider belongs to the overlay only');
  await page.check('input[name="format"][value="color"]');
  await waitForIdle();
  assert.equal(segmentRequests.length, 1, segmentRequests.join('\n'));
  assert.match(segmentRequests[0], /format=json&rle=true/);
});

test('/docs "Try it out" uploads an image to /v1/segment and /v1/classify and gets 200', { skip }, async () => {
  const png = await streetPng();
  const docs = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  try {
    await docs.goto(`${baseUrl}/docs`, { waitUntil: 'networkidle' });
    for (const operation of ['operations-inference-post_v1_segment', 'operations-inference-post_v1_classify']) {
      const block = docs.locator(`#${operation}`);
      await block.locator('.opblock-summary').first().click();
      await block.locator('button.try-out__btn').click();
      // The body's media type defaults to the first listed: a concrete image type, not a literal image/*.
      const mediaType = await block.locator('.opblock-section-request-body select').first().inputValue();
      assert.equal(mediaType, 'image/jpeg', operation);
      await block.locator('input[type="file"]').setInputFiles({ name: 'street.png', mimeType: 'image/png', buffer: png });
      const answered = docs.waitForResponse((response) => response.request().method() === 'POST' && new URL(response.url()).pathname.startsWith('/v1/'));
      await block.locator('button.execute').click();
      const response = await answered;
      assert.equal(response.status(), 200, `${operation}: ${await response.text()}`);
      assert.equal(response.request().headers()['content-type'], 'image/jpeg');
      const shown = block.locator('.live-responses-table .response .response-col_status').first();
      await shown.waitFor({ timeout: TIMEOUT_MS });
      assert.equal((await shown.innerText()).trim(), '200');
    }
  } finally {
    await docs.close();
  }
});

test('a non-image upload shows the API problem title and detail', { skip }, async () => {
  const text = Buffer.from('these are notes, not pixels\n');
  await page.setInputFiles('#image-input', { name: 'notes.txt', mimeType: 'text/plain', buffer: text });
  await page.waitForSelector('#error:not([hidden])', { timeout: TIMEOUT_MS });
  await waitForIdle();
  const problem = await apiJson('/v1/segment?format=json', text, 'application/octet-stream');
  const { title, detail, status } = problem.json as { title: string; detail: string; status: number };
  assert.equal(problem.status, status);
  assert.ok(status === 415 || status === 422, `expected 415 or 422 for a text file, got ${status}`);
  const shown = await page.innerText('#error');
  assert.ok(shown.includes(title), `error box '${shown}' lacks the title '${title}'`);
  assert.ok(shown.includes(detail), `error box '${shown}' lacks the detail '${detail}'`);
  assert.ok(shown.includes(`HTTP ${status}`));
  assert.equal(await page.$$eval('#error .problem-item', (items) => items.length), 1, 'the same problem is shown once');
  await page.screenshot({ path: new URL('web-page-error.png', ARTIFACTS).pathname, fullPage: true });
});

test('the page raised no script errors', { skip }, () => {
  assert.deepEqual(pageErrors, []);
});
