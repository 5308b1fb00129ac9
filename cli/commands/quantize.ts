/**
 * `cityseg quantize`: calibrates int8 inference on the user's images and writes the quantisation file that
 * `--precision int8 --quantization FILE` (serve, segment, eval, logits, bench) reads.
 */
import { minInputSide } from '../../model/fastseg.js';
import { readFile } from 'node:fs/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { prepareNetwork } from '../../model/load-model.js';
import { CALIBRATION_IMAGES, calibrateNetwork, DEFAULT_PERCENTILE } from '../../model/quantize/calibration-run.js';
import { QuantizationError } from '../../model/quantize/errors.js';
import type { Float32Tensor } from '../../model/engines/engine.js';
import { decodeImage } from '../../segmentation/decode.js';
import { normalizeImageNet, resizeForInference } from '../../segmentation/preprocess.js';
import { chooseCommandWeights, commandFetchOptions } from '../command-model.js';
import { writeFileAtomic } from '../files.js';
import { collectImageInputs } from '../inputs.js';
import { addModelOptions, CLI_MAX_PIXELS, modelOptions, parsePositiveInt, settingOption, type ModelFlags } from '../options.js';

interface QuantizeFlags extends ModelFlags {
  calibrate: string;
  out: string;
  maxImages: number;
  method: 'minmax' | 'percentile';
  percentile: number;
  inferenceSize: number | 'native';
  quiet?: boolean;
}

function parsePercentile(value: string): number {
  const p = Number(value);
  if (!(p > 50 && p < 100)) throw new InvalidArgumentError(`expected a percentile in (50, 100), got '${value}'`);
  return p;
}

export function quantizeCommand(): Command {
  const cmd = new Command('quantize')
    .requiredOption('--calibrate <dir>', 'images like those the model will see (a directory, searched recursively, a file or a glob)')
    .requiredOption('--out <file.json>', 'quantisation file to write')
    .addOption(new Option('--max-images <n>', `read at most n images (1..${CALIBRATION_IMAGES.max})`).argParser((v) => {
      const n = parsePositiveInt(v);
      if (n > CALIBRATION_IMAGES.max) throw new InvalidArgumentError(`at most ${CALIBRATION_IMAGES.max}`);
      return n;
    }).default(CALIBRATION_IMAGES.fallback))
    .addOption(new Option('--method <name>', 'activation ranges: percentile of each image\'s values, averaged, or the extremes').choices(['percentile', 'minmax']).default('percentile'))
    .addOption(new Option('--percentile <p>', 'with --method percentile').argParser(parsePercentile).default(DEFAULT_PERCENTILE))
    .addOption(settingOption('inferenceSize', { alias: 'size', valueName: 'n|native', help: 'long side the images are run at, as the server will (CITYSEG_INFERENCE_SIZE)' }))
    .option('--quiet', 'no per-image progress lines (bad images are still reported)');
  addModelOptions(cmd, 'segmentation');
  cmd.addHelpText('after', `
The file holds each quantised activation's range, keyed by the graph's tensor names, and the digest of the
weights it was calibrated on: use it with exactly these weights (another checkpoint is refused).
An image that cannot be read is reported and skipped; no usable image at all is an error.

Examples:
  cityseg quantize --calibrate street-samples/ --weights model.pth --out model.int8.json
  cityseg serve --weights model.pth --precision int8 --quantization model.int8.json`);
  return cmd.action(async (flags: QuantizeFlags) => {
    const say = (line: string) => process.stderr.write(`${line}\n`);
    const { images, problems } = await collectImageInputs([flags.calibrate]);
    for (const problem of problems) say(`${problem.input}: ${problem.reason}`);
    if (images.length === 0) throw new QuantizationError(`no calibration images in ${flags.calibrate}`);
    const chosen = images.slice(0, flags.maxImages);
    if (images.length > chosen.length && !flags.quiet) say(`quantize: using the first ${chosen.length} of ${images.length} images (--max-images)`);
    const choice = await chooseCommandWeights(flags, 'segmentation');
    const options = modelOptions({ ...flags, arch: choice.arch, numClasses: choice.numClasses ?? flags.numClasses, weights: choice.weights }, undefined, 'segmentation');
    const prepared = await prepareNetwork({ ...options, fetch: commandFetchOptions() });
    if (!prepared.weights.trained) say(`cityseg: warning: ${prepared.arch} is untrained (${prepared.weights.source}): the ranges fit only this seeded init`);
    let failed = 0;
    async function* inputs(): AsyncGenerator<Float32Tensor> {
      for (const [i, image] of chosen.entries()) {
        let input: Float32Tensor;
        try {
          const rgb = await decodeImage(await readFile(image.file), { maxPixels: CLI_MAX_PIXELS });
          input = normalizeImageNet(await resizeForInference(rgb, flags.inferenceSize, minInputSide(prepared.arch)));
        } catch (error) {
          failed++;
          say(`${image.file}: ${(error as Error).message}`);
          continue;
        }
        if (!flags.quiet) say(`quantize: ${i + 1}/${chosen.length} ${image.file}`);
        yield input;
      }
    }
    const artefact = await calibrateNetwork(prepared.network, inputs(), { method: flags.method, percentile: flags.percentile, inferenceSize: flags.inferenceSize, weightsSource: prepared.weights.source });
    await writeFileAtomic(flags.out, `${JSON.stringify(artefact, null, 1)}\n`);
    if (!flags.quiet) say(`quantize: ${artefact.calibration.images} images (${failed} skipped), ${Object.keys(artefact.activations).length} tensors, ${artefact.calibration.method} → ${flags.out}`);
  });
}
