/**
 * Weights that behave like trained ones, for measuring int8 agreement without downloadable trained weights:
 * torchvision's seeded init whose BatchNorm statistics are re-estimated on real images, layer after layer in one
 * forward pass (so every normalised layer sees the unit-variance inputs it would after training), and a head
 * scaled so the logits are peaked (per-class centred, std TRAINED_LIKE_LOGIT_STD), as scripts/make_fixtures.py's
 * calibrate_head does for the test fixtures.
 */
import type { Float32Tensor } from '../../model/engines/engine.js';
import { TFJS_OPS, toTfConv, toTfLinear } from '../../model/engines/tfjs-ops.js';
import { initTfjs, tf } from '../../model/engines/tfjs-runtime.js';
import type { FoldedConv, FoldedLinear, FoldedNetwork } from '../../model/fold.js';
import { forward, type NetworkOps } from '../../model/forward.js';
import { mulberry32 } from '../../model/seeded-init.js';

/** Std of the centred logits: a trained LR-ASPP's softmax is near one-hot on most pixels, as std 5 over 19 classes gives. */
export const TRAINED_LIKE_LOGIT_STD = 5;

/** tfjs ops that, at each BatchNorm'd conv, first renormalise its output over the batch, then run it. */
function renormalisingOps(gammaBeta: () => [number, number]): NetworkOps<tf.Tensor, FoldedConv, FoldedLinear> {
  const run = <T>(convert: (c: T) => { filterTensor?: tf.Tensor; matrixTensor?: tf.Tensor; biasTensor: tf.Tensor }, fn: (w: ReturnType<typeof convert>) => tf.Tensor, c: T) => {
    const w = convert(c);
    try {
      return fn(w);
    } finally {
      tf.dispose([w.filterTensor, w.matrixTensor, w.biasTensor].filter((t): t is tf.Tensor => t !== undefined));
    }
  };
  return {
    conv(x, c) {
      if (c.batchNorm) {
        const linear = run(toTfConv, (w) => TFJS_OPS.conv(x, { ...w, activation: 'linear' } as never), c);
        const { mean, variance } = tf.moments(linear, [0, 1, 2]);
        const m = mean.dataSync();
        const v = variance.dataSync();
        tf.dispose([linear, mean, variance]);
        const perChannel = c.filter.length / c.outChannels;
        for (let o = 0; o < c.outChannels; o++) {
          const [gamma, beta] = gammaBeta();
          const k = gamma / Math.sqrt(v[o] + 1e-5);
          for (let i = o * perChannel; i < (o + 1) * perChannel; i++) c.filter[i] *= k;
          c.biasValues[o] = (c.biasValues[o] - m[o]) * k + beta;
        }
      }
      return run(toTfConv, (w) => TFJS_OPS.conv(x, w as never), c);
    },
    linear: (x, l) => run(toTfLinear, (w) => TFJS_OPS.linear(x, w as never), l),
    add: TFJS_OPS.add,
    multiply: TFJS_OPS.multiply,
    globalAveragePool: TFJS_OPS.globalAveragePool,
    flatten: TFJS_OPS.flatten,
    resizeBilinear: TFJS_OPS.resizeBilinear,
    averagePool: TFJS_OPS.averagePool,
    concatChannels: TFJS_OPS.concatChannels,
  };
}

/**
 * Rewrites a segmentation network in place (the seeded init, or any folded network): each BatchNorm'd conv's
 * output over `images` (NHWC, normalised, all of one size) becomes gamma * (y - mean) / std + beta, with seeded
 * gamma in [0.5, 1.5) and beta in [-0.15, 0.15), then the head is centred and scaled as described above.
 */
export async function makeTrainedLike(net: FoldedNetwork, images: readonly Float32Tensor[], seed = 1): Promise<void> {
  const head = net.head;
  if (head.kind === 'classifier') throw new Error('trained-like weights are for segmentation networks');
  await initTfjs();
  const uniform = mulberry32(seed);
  const [, h, w, c] = images[0].shape;
  const batch = new Float32Array(images.length * h * w * c);
  images.forEach((image, i) => batch.set(image.data, i * h * w * c));
  const logits = tf.tidy(() => forward(renormalisingOps(() => [0.5 + uniform(), 0.3 * uniform() - 0.15]), net, tf.tensor4d(batch, [images.length, h, w, c])));
  const data = logits.dataSync() as Float32Array;
  logits.dispose();
  const classes = net.numClasses;
  const rows = data.length / classes;
  const mean = new Float64Array(classes);
  data.forEach((v, i) => (mean[i % classes] += v / rows));
  let sumSq = 0;
  data.forEach((v, i) => (sumSq += (v - mean[i % classes]) ** 2));
  const factor = TRAINED_LIKE_LOGIT_STD / Math.sqrt(sumSq / data.length);
  // LR-ASPP sums both classifiers: shifting one bias by the class mean centres the sum (fastseg has one, `last`).
  const finals = head.kind === 'fastseg' ? [head.last] : [head.lowClassifier, head.highClassifier];
  finals[0].biasValues.forEach((b, k) => (finals[0].biasValues[k] = b - mean[k]));
  for (const layer of finals) {
    layer.filter.forEach((v, i) => (layer.filter[i] = v * factor));
    layer.biasValues.forEach((b, i) => (layer.biasValues[i] = b * factor));
  }
}
