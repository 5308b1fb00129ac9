/**
 * `cityseg weights inspect`: what an ML engineer asks of a checkpoint first — its format, dtypes, tensor count and
 * bytes, the architecture and class count it fits (or why none), the parameter count, its sha256 and the wrapper
 * keys of a training checkpoint — read without building a model.
 */
import { expectedShapes, networkSpec, parameterCount } from '../network-spec.js';
import type { ArchName, ModelTask } from '../architectures.js';
import { materialiseStateDict, type Checkpoint, type CheckpointFormat, type SelectOptions } from './checkpoint.js';
import { elementCount, type DType } from './dtypes.js';
import { WeightsError } from './errors.js';
import { inferArchitecture } from './fit.js';
import { readCheckpoint, readWeightsFile } from './load.js';
import { isTorchScriptArchive } from './pth.js';
import { resolveWeights, type ResolveOptions } from './source.js';
import { validateStateDict } from './validate.js';

export type InspectedFormat = CheckpointFormat | 'torchscript';

export interface WeightsInspection {
  /** The path or URL given. */
  source: string;
  format: InspectedFormat;
  /** Size of the file, bytes. */
  fileBytes: number;
  sha256: string;
  /** Top-level keys of a training checkpoint (model, optimizer, ...); empty for a bare state dict. */
  wrapperKeys: string[];
  /** The entry whose state dict is described (and would be loaded), null for a bare state dict. */
  selectedKey: string | null;
  /** `module.` when DataParallel's / AveragedModel's prefix was removed. */
  strippedPrefix: string | null;
  droppedKeys: string[];
  tensorCount: number;
  /** Bytes of the tensors' elements as stored. */
  tensorBytes: number;
  /** Tensor count per stored element type. */
  dtypes: Partial<Record<DType, number>>;
  /** torchvision's count (parameters, not BatchNorm buffers) when the file fits an architecture; else elements of non-buffer tensors. */
  parameterCount: number;
  /** `filters`: fastseg's head width F. */
  fits: { arch: ArchName; numClasses: number; task: ModelTask; filters?: number } | null;
  /** Why the file fits no architecture (null when it fits). */
  whyNot: string | null;
}

const FORMAT_NAMES: Record<InspectedFormat, string> = {
  zip: 'zip (torch.save, torch >= 1.6)',
  legacy: 'legacy (torch.save, pre-1.6 format)',
  safetensors: 'safetensors',
  torchscript: 'TorchScript (torch.jit.save)',
};

const BN_BUFFER = /\.(running_mean|running_var|num_batches_tracked)$/;

function describeFit(checkpoint: Checkpoint, source: string): Pick<WeightsInspection, 'fits' | 'whyNot' | 'parameterCount'> {
  const elements = [...checkpoint.tensors].filter(([name]) => !BN_BUFFER.test(name)).reduce((n, [, t]) => n + elementCount(t.shape), 0);
  const shapes = new Map([...checkpoint.tensors].map(([name, tensor]) => [name, tensor.shape]));
  let fit;
  try {
    fit = inferArchitecture(shapes, source);
  } catch (error) {
    if (error instanceof WeightsError) return { fits: null, whyNot: error.problem, parameterCount: elements };
    throw error;
  }
  const spec = networkSpec(fit.arch, { numClasses: fit.numClasses, filters: fit.filters });
  try {
    validateStateDict(materialiseStateDict(checkpoint), expectedShapes(spec));
  } catch (error) {
    if (!(error instanceof WeightsError)) throw error;
    const closest = `closest: ${fit.arch} with ${fit.numClasses} classes`;
    return { fits: null, whyNot: `${closest}; ${error.problem}`, parameterCount: elements };
  }
  const filters = fit.filters === undefined ? {} : { filters: fit.filters };
  return { fits: { arch: fit.arch, numClasses: fit.numClasses, task: fit.task, ...filters }, whyNot: null, parameterCount: parameterCount(spec) };
}

/** Inspect the checkpoint at `source` (path or http(s) URL, downloaded into the cache). Throws WeightsError if unreadable. */
export async function inspectWeights(source: string, opts: SelectOptions & ResolveOptions = {}): Promise<WeightsInspection> {
  const resolved = await resolveWeights(source, { cacheDir: opts.cacheDir });
  const bytes = await readWeightsFile(resolved.path);
  const base = { source: resolved.source, fileBytes: bytes.length, sha256: resolved.sha256 };
  if (isTorchScriptArchive(bytes, resolved.source)) {
    return {
      ...base, format: 'torchscript', wrapperKeys: [], selectedKey: null, strippedPrefix: null, droppedKeys: [],
      tensorCount: 0, tensorBytes: 0, dtypes: {}, parameterCount: 0, fits: null,
      whyNot: 'a TorchScript archive holds a compiled module, not a state dict; save model.state_dict() with torch.save',
    };
  }
  const checkpoint = readCheckpoint(bytes, resolved.source, { weightsKey: opts.weightsKey });
  const dtypes: Partial<Record<DType, number>> = {};
  let tensorBytes = 0;
  for (const tensor of checkpoint.tensors.values()) {
    dtypes[tensor.dtype] = (dtypes[tensor.dtype] ?? 0) + 1;
    tensorBytes += tensor.byteLength;
  }
  return {
    ...base,
    format: checkpoint.format,
    wrapperKeys: checkpoint.wrapperKeys,
    selectedKey: checkpoint.selectedKey,
    strippedPrefix: checkpoint.strippedPrefix,
    droppedKeys: checkpoint.droppedKeys,
    tensorCount: checkpoint.tensors.size,
    tensorBytes,
    dtypes,
    ...describeFit(checkpoint, resolved.source),
  };
}

const grouped = (n: number): string => n.toLocaleString('en-US');

/** The inspection as aligned `label  value` lines for people. */
export function formatInspection(report: WeightsInspection): string {
  const dtypeList = (Object.entries(report.dtypes) as [DType, number][])
    .map(([dtype, count]) => `${dtype} ${count}`)
    .join(', ');
  const rows: [string, string][] = [
    ['file', report.source],
    ['format', FORMAT_NAMES[report.format]],
    ['size', `${grouped(report.fileBytes)} bytes`],
    ['sha256', report.sha256],
  ];
  if (report.wrapperKeys.length > 0) {
    rows.push(['wrapper', `${report.wrapperKeys.join(', ')} (training checkpoint; described: ${report.selectedKey}, choose with --weights-key)`]);
  }
  if (report.strippedPrefix) {
    const dropped = report.droppedKeys.length > 0 ? `; dropped ${report.droppedKeys.join(', ')}` : '';
    rows.push(['prefix', `"${report.strippedPrefix}" removed from every key${dropped}`]);
  }
  if (report.format !== 'torchscript') {
    rows.push(['tensors', `${grouped(report.tensorCount)} (${dtypeList || 'none'}), ${grouped(report.tensorBytes)} bytes`]);
    rows.push(['parameters', grouped(report.parameterCount)]);
  }
  rows.push(['fits', report.fits ? `${report.fits.arch}${report.fits.filters === undefined ? '' : ` F=${report.fits.filters}`}, ${report.fits.numClasses} classes (${report.fits.task})` : `nothing: ${report.whyNot}`]);
  return rows.map(([label, value]) => `${label.padEnd(11)}${value}`).join('\n');
}
