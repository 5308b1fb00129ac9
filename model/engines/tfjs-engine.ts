/**
 * The TensorFlow.js engine: the folded network's weights as tfjs tensors and model/forward.ts's forward pass over
 * tfjs ops (model/engines/tfjs-ops.ts), NHWC in, NHWC 1/8 logits (or [N, C]) out.
 */
import type { FoldedNetwork } from '../fold.js';
import { forward } from '../forward.js';
import { convsOf, linearsOf, mapNetwork, type NetworkSpec } from '../network-spec.js';
import type { Float32Tensor, InferenceEngine } from './engine.js';
import { disposeTfWeights, TFJS_OPS, toTfConv, toTfLinear, type TfConv, type TfLinear } from './tfjs-ops.js';
import { initTfjs, tf, type TfjsBackendName } from './tfjs-runtime.js';

type TfNetwork = NetworkSpec<TfConv, TfLinear>;

export class TfjsEngine implements InferenceEngine {
  readonly engine = 'tfjs' as const;
  private net: TfNetwork | undefined;

  /** The tfjs backend's name, followed by `(note)` when the engine stands in for another (load-model's fallback). */
  readonly backend: string;
  private constructor(backend: string, net: TfNetwork) {
    this.backend = backend;
    this.net = net;
  }

  static async create(folded: FoldedNetwork, backend?: TfjsBackendName, note?: string): Promise<TfjsEngine> {
    const name = await initTfjs(backend);
    return new TfjsEngine(note ? `${name} (${note})` : name, mapNetwork(folded, toTfConv, toTfLinear));
  }

  async run(input: Float32Tensor): Promise<Float32Tensor> {
    const net = this.net;
    if (!net) throw new Error('engine has been disposed');
    const [n, h, w, c] = input.shape;
    if (input.shape.length !== 4 || c !== 3) throw new Error(`expected NHWC input [N, H, W, 3], got [${input.shape.join(', ')}]`);
    const output = tf.tidy(() => forward(TFJS_OPS, net, tf.tensor4d(input.data, [n, h, w, c])));
    try {
      const data = (await output.data()) as Float32Array;
      return { data, shape: output.shape.slice() };
    } finally {
      output.dispose();
    }
  }

  dispose(): void {
    if (!this.net) return;
    disposeTfWeights(convsOf(this.net), linearsOf(this.net));
    this.net = undefined;
  }
}
