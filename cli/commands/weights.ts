/** `cityseg weights`: the parent of the commands about weights files and presets. */
import { Command } from 'commander';
import { weightsFetchCommand, weightsListCommand } from './weights-presets.js';

export function weightsCommand(): Command {
  const cmd = new Command('weights').description("torchvision's published weights: list them, fetch them into the cache");
  cmd.addCommand(weightsListCommand());
  cmd.addCommand(weightsFetchCommand());
  return cmd;
}
