import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { loadConfig, SETTINGS } from '../server/config.js';

// Loose shape: the test asserts the presence of every field it reads.
/* eslint-disable @typescript-eslint/no-explicit-any */
const compose = parse(readFileSync(new URL('../docker-compose.yml', import.meta.url), 'utf8')) as Record<string, any>;
const service = compose.services?.cityseg;

/** Compose interpolation as seen with an empty shell: `${VAR:-default}` → default, `${VAR}` → ''. */
function interpolate(value: string): string {
  return value.replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_, _name: string, fallback?: string) => fallback ?? '');
}

/** Compose durations such as `40s`, `1m30s`, `500ms` → seconds. */
function seconds(duration: string): number {
  const units: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 1e-3 };
  const parts = [...duration.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  assert.equal(parts.map(([part]) => part).join(''), duration, `not a compose duration: '${duration}'`);
  return parts.reduce((total, [, amount, unit]) => total + Number(amount) * units[unit], 0);
}

/** The settings the server sees in the container when the caller exported nothing. */
function composeEnv(): Record<string, string> {
  return Object.fromEntries(Object.entries(service.environment).map(([key, value]) => [key, interpolate(String(value))]));
}

test('interpolate and seconds read compose syntax', () => {
  assert.equal(interpolate('${A:-auto}/${B}/${C-x}/plain'), 'auto//x/plain');
  assert.equal(seconds('1m30s'), 90);
  assert.equal(seconds('500ms'), 0.5);
  assert.throws(() => seconds('40'), /not a compose duration/);
});

test('compose builds the image and publishes the server default port 8080', () => {
  assert.ok(service, 'no service named cityseg');
  assert.equal(service.build, '.');
  assert.deepEqual(service.ports, [`${SETTINGS.port.fallback}:${SETTINGS.port.fallback}`]);
});

test('compose mounts a weights volume read-only and a named cache volume at CITYSEG_CACHE_DIR', () => {
  const mounts = (service.volumes as string[]).map((spec) => spec.split(':'));
  const weights = mounts.find(([, target]) => target === '/weights');
  assert.ok(weights, 'no volume at /weights');
  assert.equal(weights[2], 'ro', 'weights must be mounted read-only');
  const config = loadConfig(composeEnv());
  const cache = mounts.find(([, target]) => target === config.cacheDir);
  assert.ok(cache, `no volume at CITYSEG_CACHE_DIR ${config.cacheDir}`);
  assert.ok(cache[0] in compose.volumes, `cache volume '${cache[0]}' is not declared under volumes:`);
});

test('compose environment holds only server settings with values the server accepts', () => {
  const known = new Set(Object.values(SETTINGS).map((spec) => spec.env));
  for (const key of Object.keys(service.environment)) assert.ok(known.has(key), `${key} is not a server setting`);
  const config = loadConfig(composeEnv());
  assert.equal(config.port, 8080);
  assert.equal(config.weights, undefined, 'an unset CITYSEG_WEIGHTS must reach the server as unset');
});

test('compose health-checks /healthz and waits out the server shutdown timeout before killing', () => {
  const [form, program, flag, script] = service.healthcheck.test as string[];
  assert.deepEqual([form, program, flag], ['CMD', 'node', '-e']);
  assert.match(script, /fetch\('http:\/\/127\.0\.0\.1:8080\/healthz'\)/);
  assert.equal(service.stop_signal, 'SIGTERM');
  const shutdownSeconds = loadConfig(composeEnv()).shutdownTimeoutMs / 1000;
  assert.ok(seconds(service.stop_grace_period) > shutdownSeconds, `stop_grace_period must exceed ${shutdownSeconds}s`);
});

test('compose sets HOST=0.0.0.0: the server binds to loopback by default, the published port needs every interface', () => {
  assert.equal(SETTINGS.host.fallback, '127.0.0.1');
  assert.equal(service.environment.HOST, '0.0.0.0');
  assert.equal(loadConfig(composeEnv()).host, '0.0.0.0');
});

test('compose does pixel work off the event loop by default: at least one worker thread', () => {
  const workers = loadConfig(composeEnv()).workers;
  assert.ok(workers >= 1, `CITYSEG_WORKERS defaults to ${workers} in compose: inference on the main thread stalls /healthz`);
});
