/** Test helpers for weights downloads: a mirror on 127.0.0.1 and a preset table for CITYSEG_TEST_PRESETS (not a test file). */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { WeightsPreset } from '../model/weights/presets.js';
import { fixture } from './cli-helpers.js';

export type Route = Buffer | ((request: IncomingMessage, response: ServerResponse) => void);

export interface Mirror {
  /** Base URL ending in `/`, as CITYSEG_WEIGHTS_MIRROR takes it. */
  url: string;
  /** Requests received, by path. */
  requests: string[];
  close(): Promise<void>;
}

/** An HTTP server on 127.0.0.1 answering `routes` by file name (any query string ignored), 404 otherwise. */
export async function startMirror(routes: Record<string, Route>): Promise<Mirror> {
  const requests: string[] = [];
  const server = createServer((request, response) => {
    const name = decodeURIComponent((request.url ?? '/').split('?')[0].slice(1));
    requests.push(name);
    const route = routes[name];
    if (route === undefined) response.writeHead(404).end();
    else if (Buffer.isBuffer(route)) response.writeHead(200, { 'content-length': route.length }).end(route);
    else route(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on: bound once, then closed. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A safetensors file of exactly `size` bytes (one float32 tensor `w` and padding of the header): something the
 * loader reads as a checkpoint, for download tests that need no real network.
 */
export function tinyCheckpoint(size = 4096, seed = 1): Buffer {
  for (let values = Math.floor((size - 64) / 4); values > 0; values--) {
    const json = JSON.stringify({ w: { dtype: 'F32', shape: [values], data_offsets: [0, values * 4] } });
    const headerLength = size - 8 - values * 4;
    if (headerLength < json.length) continue;
    const file = Buffer.alloc(size);
    file.writeBigUInt64LE(BigInt(headerLength), 0);
    file.write(json.padEnd(headerLength, ' '), 8, 'latin1');
    for (let i = 0; i < values; i++) file.writeFloatLE(((i * 7919 + seed) % 251) / 251, 8 + headerLength + 4 * i);
    return file;
  }
  throw new RangeError(`no checkpoint fits in ${size} bytes`);
}

export const sha256Of = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** The parity fixtures as the files a mirror serves: LR-ASPP Large (19 classes) and MobileNetV3-Large. */
export async function fixtureCheckpoints(): Promise<{ segmentation: Buffer; classifier: Buffer }> {
  const [segmentation, classifier] = await Promise.all([
    readFile(fixture('parity', 'lraspp_mobilenet_v3_large.pth')),
    readFile(fixture('parity', 'mobilenet_v3_large.pth')),
  ]);
  return { segmentation, classifier };
}

/** Test presets for the fixtures, both the defaults of their arch; `overrides` changes facts (a wrong hash...). */
export function testPresets(files: { segmentation: Buffer; classifier: Buffer }, overrides: Partial<WeightsPreset> = {}): WeightsPreset[] {
  return [
    {
      name: 'torchvision:lraspp_mobilenet_v3_large.TEST_CITYSCAPES_V1',
      arch: 'lraspp_mobilenet_v3_large',
      variant: 'TEST_CITYSCAPES_V1',
      isDefault: true,
      file: 'lraspp_test.pth',
      sha256: sha256Of(files.segmentation),
      bytes: files.segmentation.length,
      numClasses: 19,
      labels: 'cityscapes',
      preprocessing: { resizeShortSide: 520 },
      metrics: { dataset: 'test', values: { miou: 1 } },
      ...overrides,
    },
    {
      name: 'torchvision:mobilenet_v3_large.TEST_IMAGENET_V1',
      arch: 'mobilenet_v3_large',
      variant: 'TEST_IMAGENET_V1',
      isDefault: true,
      file: 'mobilenet_test.pth',
      sha256: sha256Of(files.classifier),
      bytes: files.classifier.length,
      numClasses: 1000,
      labels: 'imagenet',
      preprocessing: { resizeShortSide: 232, cropSize: 224 },
      metrics: { dataset: 'test', values: { 'acc@1': 1 } },
    },
  ];
}

/** Writes presets as the JSON file CITYSEG_TEST_PRESETS names; returns its path. */
export async function writePresets(dir: string, presets: WeightsPreset[]): Promise<string> {
  const file = path.join(dir, 'presets.json');
  await writeFile(file, JSON.stringify(presets));
  return file;
}
