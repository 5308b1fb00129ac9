/**
 * Issue 14's exactness: `cityseg logits` (the built CLI) in slide and test-time-augmented modes equals the torch
 * reference of scripts/make_slide_fixtures.py (torchvision's model, mmsegmentation's definitions written out in
 * Python) within the parity tolerance, through both engines. The fixture keeps the argmax of every pixel and every
 * channel at a subsampled grid (rows and columns 0, step, 2*step, ...).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decode as decodePng } from 'fast-png';
import { readNpy } from '../model/npy.js';
import { fixture, runCli, tempDir } from './cli-helpers.js';
import { parityManifest } from './parity-fixtures.js';

interface SlideManifest {
  arch: string;
  numClasses: number;
  weights: string;
  image: string;
  height: number;
  width: number;
  step: number;
  cases: { name: string; args: string[]; output: 'logits' | 'probabilities' }[];
}

const slide = (...parts: string[]) => fixture('slide', ...parts);

async function readGrey(file: string): Promise<Uint8Array> {
  const png = decodePng(await readFile(file));
  assert.equal(png.channels, 1, `${file} is a grey PNG`);
  return new Uint8Array(png.data);
}

describe('cityseg logits in slide and augmented modes equals torch', () => {
  let manifest: SlideManifest;
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    manifest = JSON.parse(await readFile(slide('manifest.json'), 'utf8')) as SlideManifest;
    ({ dir, cleanup } = await tempDir('slide-parity'));
  });
  after(() => cleanup());

  for (const engine of ['onnx', 'tfjs'] as const) {
    for (const name of ['slide', 'whole_tta', 'slide_tta']) {
      test(`${name} through --engine ${engine}`, async (t) => {
        const entry = manifest.cases.find((c) => c.name === name);
        assert.ok(entry, `fixture case ${name}`);
        const { height: H, width: W, numClasses: C, step } = manifest;
        const out = path.join(dir, `${name}-${engine}.npy`);
        const run = await runCli([
          'logits', '--arch', manifest.arch, '--num-classes', String(C), '--weights', slide(manifest.weights),
          '--engine', engine, '--max-forward-passes', '64', ...entry.args, '--out', out, slide(manifest.image),
        ]);
        assert.equal(run.code, 0, run.stderr);
        const actual = readNpy(await readFile(out), out);
        assert.deepEqual(actual.shape, [1, C, H, W]);

        const plane = H * W;
        const expectedArgmax = await readGrey(slide(`${name}_argmax.png`));
        let same = 0;
        for (let p = 0; p < plane; p++) {
          let best = 0;
          for (let k = 1; k < C; k++) if (actual.data[k * plane + p] > actual.data[best * plane + p]) best = k;
          if (best === expectedArgmax[p]) same++;
        }
        const sub = readNpy(await readFile(slide(`${name}_sub.npy`)));
        const [, , sh, sw] = sub.shape;
        assert.deepEqual(sub.shape, [1, C, Math.ceil(H / step), Math.ceil(W / step)]);
        let diff = 0;
        for (let k = 0; k < C; k++) {
          for (let i = 0; i < sh; i++) {
            for (let j = 0; j < sw; j++) {
              const a = actual.data[k * plane + i * step * W + j * step];
              diff = Math.max(diff, Math.abs(a - sub.data[(k * sh + i) * sw + j]));
            }
          }
        }
        const agreement = same / plane;
        t.diagnostic(`${name} (${entry.output}), ${engine}: max |Δ| ${diff.toExponential(2)}, argmax agreement ${(agreement * 100).toFixed(3)}%`);
        assert.ok(diff <= parityManifest.tolerance.maxAbsDiff, `max |Δ| ${diff}`);
        assert.ok(agreement >= parityManifest.tolerance.minArgmaxAgreement, `argmax agreement ${agreement}`);
        if (entry.output === 'probabilities') {
          // Averaged softmax: every pixel's probabilities sum to 1.
          let total = 0;
          for (let k = 0; k < C; k++) total += actual.data[k * plane + 1234];
          assert.ok(Math.abs(total - 1) < 1e-5, `probabilities sum to ${total}`);
        }
      });
    }
  }
});
