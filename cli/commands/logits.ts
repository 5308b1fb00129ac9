/** `cityseg logits`: the raw network output for one image, in torch's layout, as a float32 .npy (parity checks). */
import { readFile, writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import type { Float32Tensor } from '../../model/engines/engine.js';
import type { LoadedModel } from '../../model/loaded-model.js';
import { writeNpy } from '../../model/npy.js';
import { decodeImage } from '../../segmentation/decode.js';
import { upsampleLogits } from '../../segmentation/postprocess.js';
import { normalizeImageNet, resizeForInference, type InferenceSize } from '../../segmentation/preprocess.js';
import { loadCommandModel, withModel } from '../command-model.js';
import { addModelOptions, CLI_MAX_PIXELS, settingOption, type ModelFlags } from '../options.js';


/**
 * Preprocess exactly as torchvision (RGB, /255, ImageNet mean/std; resized only when `size` is given) and return
 * segmentation logits [1, C, H, W] at the network's input size, or classification logits [1, C].
 */
export async function computeLogits(model: LoadedModel, bytes: Uint8Array, size: InferenceSize = 'native'): Promise<Float32Tensor> {
  const image = await resizeForInference(await decodeImage(bytes, { maxPixels: CLI_MAX_PIXELS }), size);
  const output = await model.engine.run(normalizeImageNet(image));
  return model.task === 'segmentation' ? upsampleLogits(output, image.height, image.width) : output;
}

export function logitsCommand(): Command {
  const cmd = new Command('logits')
    .argument('<image>', 'input image file')
    .requiredOption('--out <file.npy>', 'output .npy file')
    // The server's size setting, but not its variable: logits reproduce torchvision's untransformed forward by default.
    .addOption(settingOption('inferenceSize', { alias: 'size', valueName: 'n|native', help: 'resize the long side to n (32..4096) before inference; native = no resize', env: false, fallback: 'native' }));
  addModelOptions(cmd);
  cmd.addHelpText('after', `
Examples:
  cityseg logits --arch lraspp_mobilenet_v3_large --num-classes 21 \\
    --weights lraspp_mobilenet_v3_large-d234d4ea.pth --out out.npy street.png
  cityseg logits --arch mobilenet_v3_small --weights mobilenet_v3_small-047dcff4.pth --out cls.npy cat.jpg`);
  return cmd.action(async (image: string, flags: ModelFlags & { out: string; inferenceSize: InferenceSize }) => {
    await withModel(await loadCommandModel(flags), async (model) => {
      const logits = await computeLogits(model, await readFile(image), flags.inferenceSize);
      await writeFile(flags.out, writeNpy(logits));
    });
  });
}
