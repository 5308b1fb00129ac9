/**
 * model/forward.ts on its own: walked over a shape-tracing NetworkOps (NCHW, torch's shape rules, every operand
 * checked), it visits each layer once, wires LR-ASPP's low and high features as torchvision does, and ends at
 * the shapes torchvision's models return.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { forward, type NetworkOps } from '../model/forward.js';
import type { ArchName } from '../model/loaded-model.js';
import { convsOf, linearsOf, networkSpec, type ConvSpec, type LinearSpec } from '../model/network-spec.js';

type Shape = readonly number[];

interface Call {
  op: string;
  scope: string;
  out: Shape;
  args: Shape[];
}

/** NCHW shapes through torch's rules; throws on any operand torch would refuse. */
class ShapeOps implements NetworkOps<Shape, ConvSpec, LinearSpec> {
  readonly calls: Call[] = [];

  private record(op: string, scope: string, out: Shape, ...args: Shape[]): Shape {
    this.calls.push({ op, scope, out, args });
    return out;
  }

  conv(x: Shape, c: ConvSpec): Shape {
    const [n, channels, h, w] = x;
    assert.equal(channels, c.inChannels, `${c.weight} takes ${c.inChannels} channels, got ${channels}`);
    // torch.nn.Conv2d: floor((L + 2p - d(k - 1) - 1) / s) + 1; TF's 'same': ceil(L / s).
    const size = (l: number) => (c.samePadding ? Math.ceil(l / c.stride) : Math.floor((l + 2 * c.padding - c.dilation * (c.kernel - 1) - 1) / c.stride) + 1);
    return this.record('conv', c.weight, [n, c.outChannels, size(h), size(w)], x);
  }

  linear(x: Shape, l: LinearSpec): Shape {
    assert.deepEqual(x, [x[0], l.inFeatures], `${l.weight} takes [N, ${l.inFeatures}], got [${x.join(', ')}]`);
    return this.record('linear', l.weight, [x[0], l.outFeatures], x);
  }

  add(a: Shape, b: Shape, scope: string): Shape {
    assert.deepEqual(a, b, `${scope}: add of [${a.join(', ')}] and [${b.join(', ')}]`);
    return this.record('add', scope, a, a, b);
  }

  multiply(a: Shape, b: Shape, scope: string): Shape {
    if (b[2] !== a[2] || b[3] !== a[3]) assert.deepEqual(b, [a[0], a[1], 1, 1], `${scope}: gate [${b.join(', ')}] does not broadcast over [${a.join(', ')}]`);
    assert.equal(b[1], a[1], `${scope}: gate channels`);
    return this.record('multiply', scope, a, a, b);
  }

  globalAveragePool(x: Shape, scope: string): Shape {
    return this.record('globalAveragePool', scope, [x[0], x[1], 1, 1], x);
  }

  flatten(x: Shape, scope: string): Shape {
    return this.record('flatten', scope, [x[0], x.slice(1).reduce((a, b) => a * b, 1)], x);
  }

  resizeBilinear(x: Shape, like: Shape, scope: string): Shape {
    return this.record('resizeBilinear', scope, [x[0], x[1], like[2], like[3]], x, like);
  }

  averagePool(x: Shape, kernel: readonly [number, number], stride: readonly [number, number], scope: string): Shape {
    const size = (l: number, i: number) => Math.floor((l - kernel[i]) / stride[i]) + 1;
    assert.ok(x[2] >= kernel[0] && x[3] >= kernel[1], `${scope}: pool ${kernel.join('x')} over [${x.join(', ')}]`);
    return this.record('averagePool', scope, [x[0], x[1], size(x[2], 0), size(x[3], 1)], x);
  }

  concatChannels(a: Shape, b: Shape, scope: string): Shape {
    assert.deepEqual([a[0], a[2], a[3]], [b[0], b[2], b[3]], `${scope}: concat of [${a.join(', ')}] and [${b.join(', ')}]`);
    return this.record('concatChannels', scope, [a[0], a[1] + b[1], a[2], a[3]], a, b);
  }

  count(op: string): number {
    return this.calls.filter((c) => c.op === op).length;
  }
}

function trace(arch: ArchName, numClasses: number, input: Shape, upsample?: boolean): { ops: ShapeOps; out: Shape } {
  const ops = new ShapeOps();
  const out = forward(ops, networkSpec(arch, { numClasses }), input, { upsample });
  return { ops, out };
}

describe('forward', () => {
  test('LR-ASPP Large ends at the 1/8 logits, or at the input size with the final upsample', () => {
    // 97 → 49 → 25 → 13 and 131 → 66 → 33 → 17: torch's rounding of three stride-2 convs.
    assert.deepEqual(trace('lraspp_mobilenet_v3_large', 19, [2, 3, 97, 131]).out, [2, 19, 13, 17]);
    assert.deepEqual(trace('lraspp_mobilenet_v3_large', 19, [2, 3, 97, 131], true).out, [2, 19, 97, 131]);
    assert.deepEqual(trace('lraspp_mobilenet_v3_small', 21, [1, 3, 64, 96]).out, [1, 21, 8, 12]);
  });

  test('LR-ASPP upsamples the gated 1/16 high features to the 1/8 low feature (Large: features[4], 40 channels)', () => {
    const { ops } = trace('lraspp_mobilenet_v3_large', 19, [1, 3, 97, 131]);
    const resizes = ops.calls.filter((c) => c.op === 'resizeBilinear');
    assert.equal(resizes.length, 1);
    const [gated, low] = resizes[0].args;
    // High: the dilated last stage stays at 1/16 (97 → 7, 131 → 9) with the head's 128 channels.
    assert.deepEqual(gated, [1, 128, 7, 9]);
    assert.deepEqual(low, [1, 40, 13, 17]);
    // torchvision's stage_indices[-4]: the output of block 4 (stride 2, not residual), i.e. its project conv.
    assert.equal(ops.calls.find((c) => c.out === low)!.scope, 'backbone.4.block.3.0.weight');
    const sum = ops.calls.at(-1)!;
    assert.deepEqual([sum.op, sum.scope, sum.args], ['add', 'classifier', [[1, 19, 13, 17], [1, 19, 13, 17]]]);
  });

  test('MobileNetV3 classifiers pool, flatten and apply both Linears: [N, 1000]', () => {
    for (const arch of ['mobilenet_v3_large', 'mobilenet_v3_small'] as const) {
      const { ops, out } = trace(arch, 1000, [3, 3, 50, 70]);
      assert.deepEqual(out, [3, 1000]);
      assert.deepEqual(ops.calls.slice(-4).map((c) => [c.op, c.scope]), [
        ['globalAveragePool', 'avgpool'],
        ['flatten', 'avgpool'],
        ['linear', 'classifier.0.weight'],
        ['linear', 'classifier.3.weight'],
      ]);
    }
  });

  test('visits every conv and Linear of the spec exactly once, the backbone in torchvision order', () => {
    for (const [arch, classes] of [['lraspp_mobilenet_v3_large', 19], ['lraspp_mobilenet_v3_small', 19], ['mobilenet_v3_large', 1000], ['mobilenet_v3_small', 1000]] as const) {
      const spec = networkSpec(arch, { numClasses: classes });
      const { ops } = trace(arch, classes, [1, 3, 64, 96]);
      const visited = ops.calls.filter((c) => c.op === 'conv' || c.op === 'linear').map((c) => c.scope);
      const layers = [...convsOf(spec), ...linearsOf(spec)].map((l) => l.weight);
      assert.deepEqual([...visited].sort(), [...layers].sort(), arch);
      const backbone = spec.backbone.blocks.length;
      assert.deepEqual(visited.slice(0, backbone), layers.slice(0, backbone), arch);
    }
  });

  test('squeeze-excite and residuals where torchvision has them, scoped by torch module path', () => {
    const { ops } = trace('lraspp_mobilenet_v3_small', 19, [1, 3, 64, 96]);
    // mobilenet_v3_small: SE in 9 of 11 blocks, 6 residual blocks; the head adds one gate and one sum.
    assert.deepEqual(
      { pool: ops.count('globalAveragePool'), multiply: ops.count('multiply'), add: ops.count('add'), resize: ops.count('resizeBilinear') },
      { pool: 10, multiply: 10, add: 7, resize: 1 },
    );
    const firstGate = ops.calls.find((c) => c.op === 'multiply')!;
    assert.deepEqual([firstGate.scope, firstGate.args[1]], ['backbone.1.block.1', [1, 16, 1, 1]]);
    // Stride 1 and as many channels out as in: blocks 3, 5, 6, 8, 10 and 11 of Table 2.
    assert.deepEqual(ops.calls.filter((c) => c.op === 'add').map((c) => c.scope), [
      'backbone.3', 'backbone.5', 'backbone.6', 'backbone.8', 'backbone.10', 'backbone.11', 'classifier',
    ]);
  });
});
