/**
 * The web page with a video: dropping it starts a job, the progress shows, then the overlay video plays (in
 * Debian's Chromium, under the page's CSP) beside the class shares over time, and the legend follows the frame.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM_SKIP, launchChromium } from './browser-helpers.js';
import { listeningAppWithDefaultModels } from './server-helpers.js';
import { loadConfig } from '../server/config.js';
import { tempDir, UNTRAINED_ENV } from './cli-helpers.js';
import { testVideo, toolProcessesMentioning } from './video-helpers.js';

const TIMEOUT_MS = 120_000;
const skip = CHROMIUM_SKIP;

let app: FastifyInstance;
let browser: Browser;
let page: Page;
let dir: string;
let cleanup: () => Promise<void>;
let baseUrl: string;
const pageErrors: string[] = [];
const jobPosts: string[] = [];

before(async () => {
  if (skip) return;
  ({ dir, cleanup } = await tempDir('web-video'));
  const config = loadConfig({
    CITYSEG_ARCH: 'lraspp_mobilenet_v3_small',
    CITYSEG_CLASSIFIER_ARCH: 'none',
    CITYSEG_INFERENCE_SIZE: '128',
    CITYSEG_JOBS_DIR: path.join(dir, 'jobs'),
    LOG_LEVEL: 'silent',
    ...UNTRAINED_ENV,
  });
  ({ app, baseUrl } = await listeningAppWithDefaultModels(config));
  browser = await launchChromium(['--autoplay-policy=no-user-gesture-required']);
  page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) pageErrors.push(message.text());
  });
  page.on('request', (req) => {
    if (req.method() === 'POST' && new URL(req.url()).pathname === '/v1/jobs') jobPosts.push(req.url());
  });
  await page.goto(baseUrl, { waitUntil: 'networkidle' });
});

after(async () => {
  await browser?.close();
  await app?.close();
  await cleanup?.();
});

test('a chosen video runs as a job, shows its progress, then plays the overlay beside the class shares over time', { skip }, async () => {
  const file = path.join(dir, 'drive.mp4');
  await testVideo(file, { width: 128, height: 96, rate: 10, frames: 20 });
  await page.setInputFiles('#image-input', { name: 'drive.mp4', mimeType: 'video/mp4', buffer: await readFile(file) });
  await page.waitForSelector('#video-views:not([hidden])', { timeout: TIMEOUT_MS });
  assert.equal(jobPosts.length, 1);
  assert.match(await page.innerText('#video-status'), /^20 frames segmented at [\d.]+ frames\/s \(128 × 96\)$/);
  assert.deepEqual(await page.$eval('#video-progress', (node) => [(node as HTMLProgressElement).value, (node as HTMLProgressElement).max]), [20, 20]);
  // The browser decodes the MP4 the job wrote: its size and length are the input's.
  const media = await page.waitForFunction(
    () => {
      const video = document.getElementById('result-video') as HTMLVideoElement;
      return video.readyState >= 1 ? { width: video.videoWidth, height: video.videoHeight, duration: video.duration, src: video.src } : null;
    },
    null,
    { timeout: TIMEOUT_MS },
  );
  const facts = (await media.jsonValue()) as { width: number; height: number; duration: number; src: string };
  assert.equal(facts.width, 128);
  assert.equal(facts.height, 96);
  assert.ok(Math.abs(facts.duration - 2) < 0.15, `duration ${facts.duration}`);
  assert.match(facts.src, /^blob:/);
  assert.ok((await page.$$('#shares-chart polyline')).length >= 1);
  const rows = await page.$$eval('#video-legend tbody tr', (nodes) => nodes.length);
  assert.ok(rows >= 1);
  assert.deepEqual(pageErrors, []);
  assert.equal(await page.isVisible('#error'), false);
  assert.deepEqual(await toolProcessesMentioning(dir), []);
});

test('a video the server refuses shows its problem in the alert', { skip }, async () => {
  await page.setInputFiles('#image-input', { name: 'notes.mp4', mimeType: 'video/mp4', buffer: Buffer.from('not a video at all\n'.repeat(10)) });
  await page.waitForSelector('#error:not([hidden])', { timeout: TIMEOUT_MS });
  assert.match(await page.innerText('#error'), /not a video ffmpeg can read/);
  assert.deepEqual(pageErrors, []);
});
