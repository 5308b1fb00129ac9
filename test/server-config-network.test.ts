import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../server/config.js';

function refusal(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.message;
  }
  assert.fail(`accepted ${JSON.stringify(env)}`);
}

describe('network settings', () => {
  it('listen on loopback, with authentication, rate limits and CORS off unless set', () => {
    const config = loadConfig({});
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.apiKeys, undefined);
    assert.equal(config.metricsAuth, false);
    assert.equal(config.rateLimitMax, 0);
    assert.equal(config.rateLimitWindowMs, 60_000);
    assert.equal(config.corsOrigins, undefined);
  });

  it('read rate limits, CORS origins and the metrics key switch from env and flags', () => {
    const config = loadConfig(
      { CITYSEG_RATE_LIMIT_MAX: '30', CITYSEG_CORS_ORIGINS: 'https://app.example.org, http://localhost:3000', CITYSEG_METRICS_AUTH: 'true' },
      { rateLimitWindowMs: '1000' },
    );
    assert.deepEqual(
      [config.rateLimitMax, config.rateLimitWindowMs, config.corsOrigins, config.metricsAuth],
      [30, 1000, ['https://app.example.org', 'http://localhost:3000'], true],
    );
    assert.equal(loadConfig({ CITYSEG_METRICS_AUTH: '0' }).metricsAuth, false);
  });

  it('refuse values that are not what they claim, naming the variable', () => {
    assert.equal(refusal({ CITYSEG_METRICS_AUTH: 'maybe' }), "CITYSEG_METRICS_AUTH: expected true or false, got 'maybe'");
    assert.equal(refusal({ CITYSEG_RATE_LIMIT_MAX: '-1' }), "CITYSEG_RATE_LIMIT_MAX: expected an integer in 0..1000000000, got '-1'");
    assert.equal(refusal({ CITYSEG_RATE_LIMIT_WINDOW_MS: '0' }), "CITYSEG_RATE_LIMIT_WINDOW_MS: expected an integer in 1..86400000, got '0'");
    assert.equal(refusal({ CITYSEG_CORS_ORIGINS: '*' }), "CITYSEG_CORS_ORIGINS: '*' is not an origin (scheme://host[:port], no path or trailing slash)");
    assert.equal(refusal({ CITYSEG_CORS_ORIGINS: 'https://a.example/' }), "CITYSEG_CORS_ORIGINS: 'https://a.example/' is not an origin (scheme://host[:port], no path or trailing slash)");
    assert.equal(refusal({ CITYSEG_CORS_ORIGINS: ' , ' }), 'CITYSEG_CORS_ORIGINS: expected one or more origins such as https://app.example.org');
  });
});
