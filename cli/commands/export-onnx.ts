/** `cityseg export-onnx`: the model, weights folded in, as a standalone ONNX file with torchvision's interface. */
import { Command, Option } from 'commander';
import { DEFAULT_OPSET } from '../../model/engines/onnx-graph.js';
import { exportOnnx } from '../../model/export-onnx.js';
import { addModelOptions, modelOptions, parsePositiveInt, type ModelFlags } from '../options.js';

export function exportOnnxCommand(): Command {
  const cmd = new Command('export-onnx')
    .requiredOption('--out <file.onnx>', 'file to write (overwritten)')
    .addOption(new Option('--opset <n>', 'ONNX opset, 15..22').argParser(parsePositiveInt).default(DEFAULT_OPSET));
  addModelOptions(cmd);
  cmd.addHelpText('after', `
Examples:
  cityseg export-onnx --arch lraspp_mobilenet_v3_large --num-classes 21 \\
    --weights lraspp_mobilenet_v3_large-d234d4ea.pth --out lraspp.onnx
  cityseg export-onnx --arch mobilenet_v3_small --weights mobilenet_v3_small-047dcff4.pth --out mnv3s.onnx`);
  return cmd.action(async (flags: ModelFlags & { out: string; opset: number }) => {
    const result = await exportOnnx({ ...modelOptions(flags), out: flags.out, opset: flags.opset });
    const trained = result.weights.trained ? result.weights.source : `UNTRAINED (${result.weights.source})`;
    process.stdout.write(
      `wrote ${result.out}: ${result.bytes} bytes, opset ${result.opset}, ${result.parameterCount} parameters, ` +
        `input "${result.inputName}", output "${result.outputName}", weights ${trained}\n`,
    );
  });
}
