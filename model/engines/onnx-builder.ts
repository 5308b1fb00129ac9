/**
 * A small helper to assemble an ONNX GraphProto with the protobufjs classes of the `onnx-proto` package:
 * float32 initializers, nodes with typed attributes and unique names, and graph inputs/outputs with dynamic dims.
 */
import { endianness } from 'node:os';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxSchema } from 'onnx-proto';
import { OnnxGraphError } from './onnx-errors.js';

// onnx-proto is CommonJS assigning module.exports wholesale, so Node only exposes it as the default export.
export const { onnx } = onnxProto;

type IAttributeProto = OnnxSchema.IAttributeProto;
type INodeProto = OnnxSchema.INodeProto;
type ITensorProto = OnnxSchema.ITensorProto;
type IValueInfoProto = OnnxSchema.IValueInfoProto;
type IGraphProto = OnnxSchema.IGraphProto;

const { AttributeType } = onnx.AttributeProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;

/** Typed attribute constructors: ONNX distinguishes int from float attributes, JavaScript numbers do not. */
export const attr = {
  int: (name: string, i: number): IAttributeProto => ({ name, type: AttributeType.INT, i }),
  ints: (name: string, ints: number[]): IAttributeProto => ({ name, type: AttributeType.INTS, ints }),
  float: (name: string, f: number): IAttributeProto => ({ name, type: AttributeType.FLOAT, f }),
  string: (name: string, s: string): IAttributeProto => ({ name, type: AttributeType.STRING, s: new TextEncoder().encode(s) }),
};

/** ONNX raw_data is little-endian whatever the host. */
function littleEndianBytes(data: Float32Array): Uint8Array {
  if (endianness() === 'LE') return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const view = new DataView(new ArrayBuffer(data.byteLength));
  data.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return new Uint8Array(view.buffer);
}

/** A dimension is a fixed size or a symbolic name (dynamic batch, height, width). */
export type Dim = number | string;

export function floatValueInfo(name: string, dims: Dim[]): IValueInfoProto {
  const dim = dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return { name, type: { tensorType: { elemType: FLOAT, shape: { dim } } } };
}

export interface NodeOptions {
  attributes?: IAttributeProto[];
}

export class OnnxGraphBuilder {
  private readonly nodes: INodeProto[] = [];
  private readonly initializers: ITensorProto[] = [];
  private readonly usedNames = new Set<string>();

  /** A float32 weight stored in the graph; returns its name for use as a node input. */
  initializer(name: string, dims: number[], data: Float32Array): string {
    const unique = this.uniqueName(name);
    this.initializers.push({ name: unique, dims, dataType: FLOAT, rawData: littleEndianBytes(data) });
    return unique;
  }

  /** A weight of another element type (int8/uint8/int32 for quantised graphs), `rawData` little-endian; returns its name. */
  typedInitializer(name: string, dims: number[], dataType: number, rawData: Uint8Array): string {
    const unique = this.uniqueName(name);
    this.initializers.push({ name: unique, dims, dataType, rawData });
    return unique;
  }

  /** Adds one single-output node named `<scope>/<op>`; its output carries the same name, which is returned. */
  node(op: string, inputs: string[], scope: string, options: NodeOptions = {}): string {
    const name = this.uniqueName(`${scope}/${op}`);
    this.nodes.push({ name, opType: op, input: inputs, output: [name], attribute: options.attributes ?? [] });
    return name;
  }

  /** Gives a node's output its public name (a graph output); only before anything consumes it. */
  renameOutput(from: string, to: string): void {
    const producer = this.nodes.find((n) => n.output?.[0] === from);
    if (!producer) throw new OnnxGraphError(`no node produces ${from}`);
    if (this.nodes.some((n) => n.input?.includes(from))) throw new OnnxGraphError(`${from} is already consumed; cannot rename it to ${to}`);
    if (this.usedNames.has(to)) throw new OnnxGraphError(`tensor name ${to} is already taken`);
    this.usedNames.add(to);
    producer.output = [to];
  }

  graph(name: string, inputs: IValueInfoProto[], outputs: IValueInfoProto[]): IGraphProto {
    return { name, node: this.nodes, initializer: this.initializers, input: inputs, output: outputs };
  }

  private uniqueName(base: string): string {
    let name = base;
    for (let i = 1; this.usedNames.has(name); i++) name = `${base}_${i}`;
    this.usedNames.add(name);
    return name;
  }
}
