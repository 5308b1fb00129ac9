/**
 * `cityseg summary` and model/summary.ts: the totals of the one forward walk over shape-tracking operations equal
 * torchvision's parameter counts and the multiply-adds a PyTorch forward hook counts under the same convention
 * (one per Conv2d / Linear weight per output position; torch 1.13, torchvision 0.14), which are the paper's 219M
 * (Large) and 56M (Small) at 224x224 within 1.1% and 0.9%; the paper rows are Tables 1 and 2.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BACKBONE_TABLES } from '../model/architectures.js';
import { networkSpec, parameterCount } from '../model/network-spec.js';
import { summarizeNetwork } from '../model/summary.js';
import { runCli } from './cli-helpers.js';

/** Multiply-adds counted by forward hooks on torchvision's models (Conv2d: output positions x in/groups x k²; Linear: in x out). */
const TORCH_MULTIPLY_ADDS = {
  mobilenet_v3_large: 216_589_760,
  mobilenet_v3_small: 56_510_400,
  lraspp_mobilenet_v3_large: 379_017_888,
} as const;
/** "Searching for MobileNetV3", Table 3: MAdds at 224x224. */
const PAPER_MADDS = { mobilenet_v3_large: 219e6, mobilenet_v3_small: 56e6 } as const;

describe('summarizeNetwork', () => {
  it("totals equal torchvision's parameters and its hook-counted multiply-adds; the paper's MAdds within 1.5%", () => {
    for (const arch of ['mobilenet_v3_large', 'mobilenet_v3_small', 'lraspp_mobilenet_v3_large'] as const) {
      const summary = summarizeNetwork(arch);
      assert.equal(summary.parameters, parameterCount(networkSpec(arch, { numClasses: summary.numClasses })), arch);
      assert.equal(summary.multiplyAdds, TORCH_MULTIPLY_ADDS[arch], arch);
    }
    assert.equal(summarizeNetwork('mobilenet_v3_large').parameters, 5_483_032);
    assert.equal(summarizeNetwork('mobilenet_v3_small').parameters, 2_542_856);
    assert.equal(summarizeNetwork('lraspp_mobilenet_v3_large', undefined, 21).parameters, 3_221_538);
    for (const arch of ['mobilenet_v3_large', 'mobilenet_v3_small'] as const) {
      const ratio = summarizeNetwork(arch).multiplyAdds / PAPER_MADDS[arch];
      assert.ok(Math.abs(ratio - 1) < 0.015, `${arch}: ${ratio}`);
    }
  });

  it("the paper rows are Tables 1 and 2: stem, every bneck as the table writes it, the 1x1 conv, pool and classifier", () => {
    for (const arch of ['mobilenet_v3_large', 'mobilenet_v3_small'] as const) {
      const { table } = summarizeNetwork(arch);
      const bnecks = [...BACKBONE_TABLES[arch].body, ...BACKBONE_TABLES[arch].tail];
      assert.equal(table.length, bnecks.length + 5);
      assert.deepEqual(table[0], { input: '224²×3', operator: 'conv2d, 3x3', nl: 'HS', out: 16, se: false, stride: 2 });
      bnecks.forEach(([kernel, exp, out, se, nl, stride], i) => {
        const row = table[i + 1];
        assert.deepEqual([row.operator, row.expSize, row.out, row.se, row.nl, row.stride], [`bneck, ${kernel}x${kernel}`, exp, out, se, nl, stride], `${arch} row ${i + 1}`);
      });
      // Then conv2d 1x1 (6x the last bneck's #out), pool 7x7, and the classifier's two 1x1 NBN convs (Linears).
      const lastConv = 6 * bnecks[bnecks.length - 1][2];
      const last = BACKBONE_TABLES[arch].lastChannel;
      assert.deepEqual(table.slice(-4).map((row) => [row.input, row.operator, row.out, row.nl ?? '-', row.stride]), [
        [`7²×${bnecks[bnecks.length - 1][2]}`, 'conv2d, 1x1', lastConv, 'HS', 1],
        [`7²×${lastConv}`, 'pool, 7x7', lastConv, '-', 1],
        [`1²×${lastConv}`, 'conv2d 1x1, NBN', last, 'HS', 1],
        [`1²×${last}`, 'conv2d 1x1, NBN', 1000, '-', 1],
      ]);
    }
    // Large's rows as Table 1 prints their inputs.
    assert.deepEqual(summarizeNetwork('mobilenet_v3_large').table.map((row) => row.input), [
      '224²×3', '112²×16', '112²×16', '56²×24', '56²×24', '28²×40', '28²×40', '28²×40', '14²×80', '14²×80', '14²×80',
      '14²×80', '14²×112', '14²×112', '7²×160', '7²×160', '7²×160', '7²×960', '1²×960', '1²×1280',
    ]);
  });

  it('tracks shapes at an odd input: LR-ASPP ends at the input size after its 1/8 head', () => {
    const { layers, input } = summarizeNetwork('lraspp_mobilenet_v3_large', { height: 97, width: 131 });
    assert.deepEqual(input, { height: 97, width: 131 });
    assert.deepEqual(layers[0].output, [16, 49, 66]);
    const low = layers.find((layer) => layer.module === 'classifier.low_classifier');
    assert.deepEqual(low?.output, [19, 13, 17]);
    assert.deepEqual(layers[layers.length - 1].output, [19, 97, 131]);
    assert.equal(summarizeNetwork('lraspp_mobilenet_v3_large', { height: 97, width: 131 }).multiplyAdds, 118_675_632);
  });

  it('refuses an input that is not positive integers', () => {
    assert.throws(() => summarizeNetwork('mobilenet_v3_small', { height: 0, width: 5 }), RangeError);
  });
});

describe('cityseg summary (compiled CLI)', () => {
  it('prints the tables and the totals; --json carries the same numbers', async () => {
    const text = await runCli(['summary', '--arch', 'mobilenet_v3_small']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^mobilenet_v3_small, 1000 classes, input 224x224x3$/m);
    assert.match(text.stdout, /^224²×3 +conv2d, 3x3 +- +16 +- +HS +2$/m);
    assert.match(text.stdout, /^parameters: 2,542,856$/m);
    assert.match(text.stdout, /^multiply-adds: 56,510,400 \(56\.5M\)$/m);
    const json = await runCli(['summary', '--arch', 'lraspp_mobilenet_v3_large', '--input', '97x131', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const summary = JSON.parse(json.stdout) as { parameters: number; multiplyAdds: number; numClasses: number };
    assert.deepEqual([summary.parameters, summary.multiplyAdds, summary.numClasses], [3_221_198, 118_675_632, 19]);
  });

  it('a bad --input is a usage error naming it', async () => {
    const run = await runCli(['summary', '--input', '224']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--input <HxW>.*'224' is invalid/);
  });

  it("fastseg runs at its 385 px minimum by default, and a smaller --input is a usage error naming it", async () => {
    const json = await runCli(['summary', '--arch', 'fastseg_mobilev3_large', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const summary = JSON.parse(json.stdout) as { input: { height: number; width: number }; parameters: number; layers: { output: number[] }[] };
    assert.deepEqual(summary.input, { height: 385, width: 385 });
    assert.equal(summary.parameters, 3_284_547);
    assert.ok(summary.layers.every((layer) => layer.output.every((n) => n >= 1)), 'every layer has a positive shape');
    const small = await runCli(['summary', '--arch', 'fastseg_mobilev3_large', '--input', '300x300']);
    assert.equal(small.code, 2);
    assert.match(small.stderr, /needs an input of at least 385 pixels a side, got 300x300/);
  });
});
