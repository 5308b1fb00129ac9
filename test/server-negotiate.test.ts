import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { prefersJson } from '../server/negotiate.js';

describe('prefersJson', () => {
  const cases: [string | undefined, boolean][] = [
    [undefined, false],
    ['', false],
    ['application/json', true],
    ['Application/JSON', true],
    ['application/json, */*;q=0.1', true],
    ['*/*', false],
    ['image/png', false],
    ['image/png, application/json', false], // equal quality: the image (the default) wins
    ['image/*;q=0.5, application/json', true],
    ['application/json;q=0.4, image/png;q=0.9', false],
    ['application/json;q=0', false],
    ['text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8', false],
  ];
  for (const [accept, expected] of cases) {
    it(`${JSON.stringify(accept)} → ${expected}`, () => assert.equal(prefersJson(accept), expected));
  }
});
