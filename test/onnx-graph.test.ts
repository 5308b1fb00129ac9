import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { onnx as OnnxSchema } from 'onnx-proto';
import { buildOnnxModel, type OnnxLayout } from '../model/engines/onnx-graph.js';
import { OnnxGraphError } from '../model/engines/onnx-errors.js';
import type { FoldedNetwork } from '../model/fold.js';
import { convsOf } from '../model/network-spec.js';
import { decodeModel, randomisedNetwork } from './onnx-test-networks.js';

const segmenter = randomisedNetwork('lraspp_mobilenet_v3_small', 19, 21);
const classifier = randomisedNetwork('mobilenet_v3_small', 1000, 22);

function graphOf(net: FoldedNetwork, layout: OnnxLayout, opset?: number): OnnxSchema.IGraphProto {
  return decodeModel(buildOnnxModel(net, { layout, opset })).graph!;
}

function nodesOf(graph: OnnxSchema.IGraphProto, op: string): OnnxSchema.INodeProto[] {
  return (graph.node ?? []).filter((n) => n.opType === op);
}

/** Attribute values by name; strings decoded, ints and floats as numbers. */
function attributes(node: OnnxSchema.INodeProto): Record<string, unknown> {
  const type = (a: OnnxSchema.IAttributeProto) => a.type as number;
  const VALUE: Record<number, (a: OnnxSchema.IAttributeProto) => unknown> = {
    1: (a) => a.f,
    2: (a) => a.i,
    3: (a) => new TextDecoder().decode(a.s ?? new Uint8Array()),
    7: (a) => a.ints,
  };
  return Object.fromEntries((node.attribute ?? []).map((a) => [a.name, VALUE[type(a)](a)]));
}

function dims(info: OnnxSchema.IValueInfoProto): (number | string)[] {
  return (info.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue)));
}

describe('buildOnnxModel', () => {
  test('engine layout wraps the NCHW graph in NHWC transposes with dynamic batch, height and width', () => {
    const graph = graphOf(segmenter, 'engine');
    assert.deepEqual(dims(graph.input![0]), ['batch', 'height', 'width', 3]);
    assert.deepEqual(dims(graph.output![0]), ['batch', 'logits_height', 'logits_width', 19]);
    const [first, last] = [graph.node![0], graph.node![graph.node!.length - 1]];
    assert.equal(first.opType, 'Transpose');
    assert.deepEqual(first.input, ['input']);
    assert.deepEqual(attributes(first).perm, [0, 3, 1, 2]);
    assert.equal(last.opType, 'Transpose');
    assert.deepEqual(last.output, ['logits']);
    assert.deepEqual(attributes(last).perm, [0, 2, 3, 1]);
    assert.equal(nodesOf(graph, 'Resize').length, 1);
  });

  test('torchvision layout takes NCHW and upsamples to the input size taken from its runtime shape', () => {
    const graph = graphOf(segmenter, 'torchvision');
    assert.deepEqual(dims(graph.input![0]), ['batch', 3, 'height', 'width']);
    assert.deepEqual(dims(graph.output![0]), ['batch', 19, 'height', 'width']);
    assert.equal(nodesOf(graph, 'Transpose').length, 0);
    const resizes = nodesOf(graph, 'Resize');
    assert.equal(resizes.length, 2);
    for (const r of resizes) {
      assert.deepEqual(attributes(r), { mode: 'linear', coordinate_transformation_mode: 'pytorch_half_pixel' });
      assert.deepEqual(r.input!.slice(1, 3), ['', '']);
    }
    assert.deepEqual(resizes[1].output, ['out']);
    // The final size: [N, C] of the logits and [H, W] of the graph input.
    const concat = graph.node!.find((n) => n.output![0] === resizes[1].input![3])!;
    const shapes = concat.input!.map((name) => graph.node!.find((n) => n.output![0] === name)!);
    assert.deepEqual(shapes.map((s) => [s.input![0] === 'input', attributes(s)]), [[false, { end: 2 }], [true, { start: 2 }]]);
  });

  test('has one Conv per network conv with torch padding, stride, dilation and groups', () => {
    const graph = graphOf(segmenter, 'torchvision');
    const convs = nodesOf(graph, 'Conv');
    const specs = convsOf(segmenter);
    assert.equal(convs.length, specs.length);
    // mobilenet_v3_small: stem, 50 in the 11 blocks (4 + 3 + 3 + 8 x 5), last conv; LR-ASPP: 4.
    assert.equal(convs.length, 56);
    convs.forEach((node, i) => {
      const c = specs[i];
      assert.deepEqual(attributes(node), {
        kernel_shape: [c.kernel, c.kernel],
        strides: [c.stride, c.stride],
        dilations: [c.dilation, c.dilation],
        pads: [c.padding, c.padding, c.padding, c.padding],
        group: c.groups,
      });
    });
    // A dilated 5x5 depthwise conv of the last stage: padding 4, stride 1.
    assert.ok(convs.some((n) => attributes(n).pads?.toString() === '4,4,4,4' && attributes(n).dilations?.toString() === '2,2'));
  });

  test('stores the folded weights byte for byte as float32 initializers', () => {
    const graph = graphOf(segmenter, 'torchvision');
    const stem = segmenter.backbone.stem;
    const weight = graph.initializer!.find((t) => t.name === 'backbone.0.0.weight')!;
    const bias = graph.initializer!.find((t) => t.name === 'backbone.0.0.bias')!;
    assert.deepEqual(weight.dims, [16, 3, 3, 3]);
    assert.equal(weight.dataType, 1);
    assert.deepEqual(new Float32Array(new Uint8Array(weight.rawData!).buffer), stem.filter);
    assert.deepEqual(new Float32Array(new Uint8Array(bias.rawData!).buffer), stem.biasValues);
    const names = graph.initializer!.map((t) => t.name);
    assert.equal(new Set(names).size, names.length);
    // Every conv has a weight and a (folded) bias.
    assert.equal(names.length, 2 * convsOf(segmenter).length);
  });

  test('uses torch hard-sigmoid constants and ONNX ops for every activation', () => {
    const graph = graphOf(segmenter, 'torchvision');
    const hardSigmoids = nodesOf(graph, 'HardSigmoid');
    // One per squeeze-excite block: mobilenet_v3_small has 9.
    assert.equal(hardSigmoids.length, 9);
    for (const n of hardSigmoids) assert.deepEqual(attributes(n), { alpha: Math.fround(1 / 6), beta: 0.5 });
    const count = (op: string) => nodesOf(graph, op).length;
    assert.deepEqual(
      { HardSwish: count('HardSwish'), Relu: count('Relu'), Sigmoid: count('Sigmoid'), GlobalAveragePool: count('GlobalAveragePool'), Add: count('Add'), Mul: count('Mul') },
      // HardSwish: stem, expand + depthwise of blocks 4-11, last conv. Relu: 5 convs of blocks 1-3, 9 SE fc1,
      // the LR-ASPP cbr. Add: 6 residual blocks + the head's sum. Mul and pool: 9 SE + the head's gate.
      { HardSwish: 18, Relu: 15, Sigmoid: 1, GlobalAveragePool: 10, Add: 7, Mul: 10 },
    );
  });

  test('classifier: pooled, flattened, two Gemm with torch [out, in] weights', () => {
    const graph = graphOf(classifier, 'engine');
    assert.deepEqual(dims(graph.output![0]), ['batch', 1000]);
    assert.deepEqual(graph.node!.slice(-5).map((n) => n.opType), ['GlobalAveragePool', 'Flatten', 'Gemm', 'HardSwish', 'Gemm']);
    for (const gemm of nodesOf(graph, 'Gemm')) assert.deepEqual(attributes(gemm), { transB: 1 });
    assert.deepEqual(graph.initializer!.find((t) => t.name === 'classifier.3.weight')!.dims, [1000, 1024]);
    assert.deepEqual(graph.node!.at(-1)!.output, ['logits']);
  });

  test('every node input is produced earlier: the graph is topologically sorted', () => {
    for (const net of [segmenter, classifier]) {
      const graph = graphOf(net, 'engine');
      const known = new Set(['', 'input', ...graph.initializer!.map((t) => t.name!)]);
      for (const node of graph.node!) {
        for (const input of node.input!) assert.ok(known.has(input), `${node.name} reads ${input} before it exists`);
        for (const output of node.output!) known.add(output);
      }
      const names = graph.node!.map((n) => n.name);
      assert.equal(new Set(names).size, names.length);
    }
  });

  test('records opset, IR version and what the model is', () => {
    const model = decodeModel(buildOnnxModel(segmenter, { layout: 'engine', opset: 19, weightsSource: 'w.pth', weightsSha256: 'ab12' }));
    assert.deepEqual(model.opsetImport, [{ domain: '', version: 19 }]);
    assert.equal(model.irVersion, 9);
    assert.equal(model.producerName, 'cityseg');
    assert.match(model.docString!, /^lraspp_mobilenet_v3_small \(segmentation, 19 classes\)/);
    assert.deepEqual(Object.fromEntries(model.metadataProps!.map((p) => [p.key, p.value])), {
      arch: 'lraspp_mobilenet_v3_small',
      task: 'segmentation',
      num_classes: '19',
      layout: 'engine',
      weights_source: 'w.pth',
      weights_sha256: 'ab12',
    });
  });

  test('refuses opsets without HardSwish or Shape start/end, naming the opset', () => {
    assert.throws(() => buildOnnxModel(segmenter, { layout: 'engine', opset: 13 }), (err: Error) => {
      assert.ok(err instanceof OnnxGraphError);
      assert.match(err.message, /opset 13 is not supported; use one of 15, 16, 17, 18, 19, 20, 21, 22/);
      return true;
    });
  });
});
