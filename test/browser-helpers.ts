/** Debian's Chromium through playwright-core, for the web page's tests (not a test file itself). */
import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** The skip reason of a browser test where Chromium is absent, else false. */
export const CHROMIUM_SKIP = existsSync(CHROMIUM) ? false : `${CHROMIUM} is absent (CI installs Debian's chromium package)`;

/** Headless Chromium without the background traffic of a desktop browser; `extraArgs` e.g. an autoplay policy. */
export async function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', ...extraArgs],
  });
}
