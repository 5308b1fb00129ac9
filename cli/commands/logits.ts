/** `cityseg logits`: the raw network output for one image, in torch's layout, as a float32 .npy (parity checks). */
import { readFile, writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import type { Float32Tensor } from '../../model/engines/engine.js';
import { minInputSide } from '../../model/fastseg.js';
import type { LoadedModel } from '../../model/loaded-model.js';
import { writeNpy } from '../../model/npy.js';
import { decodeImage } from '../../segmentation/decode.js';
import { InvalidArgumentError } from '../../segmentation/errors.js';
import { isPlainWhole, scoresWithMode, type InferenceModeOptions } from '../../segmentation/inference-modes/index.js';
import { upsampleLogits } from '../../segmentation/postprocess.js';
import { normalizeImageNet, resizeForInference, type InferenceSize } from '../../segmentation/preprocess.js';
import { loadCommandModel, withModel } from '../command-model.js';
import { addInferenceModeOptions, INFERENCE_MODE_HELP, inferenceModeFrom, type InferenceModeFlags } from '../inference-mode-options.js';
import { addModelOptions, addPrecisionOptions, CLI_MAX_PIXELS, settingOption, type ModelFlags } from '../options.js';


/**
 * Preprocess exactly as torchvision (RGB, /255, ImageNet mean/std; resized only when `size` is given, or enlarged
 * to the model's minimum side: fastseg's 385) and return segmentation logits [1, C, H, W] at the network's input size, or classification logits [1, C]. With an inference
 * mode other than one whole pass (segmentation only, else InvalidArgumentError): `slide` → the window-averaged
 * logits, test-time augmentation → the averaged softmax probabilities, [1, C, H, W] at the same size.
 */
export async function computeLogits(
  model: LoadedModel,
  bytes: Uint8Array,
  size: InferenceSize = 'native',
  mode?: InferenceModeOptions,
): Promise<Float32Tensor> {
  const plain = !mode || isPlainWhole(mode);
  if (!plain && model.task !== 'segmentation') {
    throw new InvalidArgumentError(`--mode, --scales and --flip apply to segmentation models, not the ${model.arch} classifier`);
  }
  const minSide = minInputSide(model.arch);
  const image = await resizeForInference(await decodeImage(bytes, { maxPixels: CLI_MAX_PIXELS }), size, minSide);
  if (!plain) return (await scoresWithMode(model.engine, image, mode, minSide)).scores;
  const output = await model.engine.run(normalizeImageNet(image));
  return model.task === 'segmentation' ? upsampleLogits(output, image.height, image.width) : output;
}

export function logitsCommand(): Command {
  const cmd = new Command('logits')
    .argument('<image>', 'input image file')
    .requiredOption('--out <file.npy>', 'output .npy file')
    // The server's size setting, but not its variable: logits reproduce torchvision's untransformed forward by default.
    .addOption(settingOption('inferenceSize', { alias: 'size', valueName: 'n|native', help: 'resize the long side to n (32..4096) before inference; native = no resize', env: false, fallback: 'native' }));
  addInferenceModeOptions(cmd);
  addModelOptions(cmd);
  addPrecisionOptions(cmd);
  cmd.addHelpText('after', `${INFERENCE_MODE_HELP}
With --mode slide the output is the window-averaged logits; with --scales or --flip it is the averaged softmax
probabilities; both [1,C,H,W] at the (--size) image's size.

Examples:
  cityseg logits --arch lraspp_mobilenet_v3_large --num-classes 21 \\
    --weights lraspp_mobilenet_v3_large-d234d4ea.pth --out out.npy street.png
  cityseg logits --mode slide --crop 256x512 --stride 171x341 --weights lraspp.pth --out slide.npy street.png
  cityseg logits --arch mobilenet_v3_small --weights mobilenet_v3_small-047dcff4.pth --out cls.npy cat.jpg`);
  return cmd.action(async (image: string, flags: ModelFlags & InferenceModeFlags & { out: string; inferenceSize: InferenceSize }) => {
    const mode = inferenceModeFrom(flags);
    await withModel(await loadCommandModel(flags), async (model) => {
      const logits = await computeLogits(model, await readFile(image), flags.inferenceSize, mode);
      await writeFile(flags.out, writeNpy(logits));
    });
  });
}
