/**
 * The stages of one segmentation request, in the order it passes them: the one list that the pipeline's timings,
 * the server's `Server-Timing` header and `cityseg bench`'s per-stage breakdown all read.
 */
export const REQUEST_STAGES = [
  { name: 'queue', field: 'queueMs', description: 'waiting in the inference queue for a slot and memory (server only)' },
  { name: 'decode', field: 'decodeMs', description: 'image bytes to 8-bit RGB at the image size' },
  { name: 'resize', field: 'resizeMs', description: 'to the inference size (0 when the policy keeps the size)' },
  { name: 'normalize', field: 'normalizeMs', description: 'RGB bytes to the engine input tensor' },
  { name: 'forward', field: 'inferenceMs', description: 'the forward pass alone (not waiting for the engine)' },
  { name: 'upsample-argmax', field: 'postprocessMs', description: 'logits upsampled to the image size and argmax' },
  { name: 'encode', field: 'encodeMs', description: 'the mask or JSON body' },
] as const;

export type StageName = (typeof REQUEST_STAGES)[number]['name'];
export type StageField = (typeof REQUEST_STAGES)[number]['field'];

/** Milliseconds per stage; a stage that did not run separately (e.g. resize in a slide run) is absent. */
export type StageTimings = Partial<Record<StageField, number>>;

/** The W3C `Server-Timing` header value of a request's stages, e.g. `queue;dur=0.1, decode;dur=14.2, …`. */
export function serverTimingHeader(timings: StageTimings): string {
  return REQUEST_STAGES.filter((s) => typeof timings[s.field] === 'number')
    .map((s) => `${s.name};dur=${(timings[s.field] as number).toFixed(2)}`)
    .join(', ');
}

/** Stage name → milliseconds from a `Server-Timing` header (entries that are not our stages are skipped). */
export function parseServerTiming(header: string | undefined): Partial<Record<StageName, number>> {
  const out: Partial<Record<StageName, number>> = {};
  const names = new Set<string>(REQUEST_STAGES.map((s) => s.name));
  for (const entry of (header ?? '').split(',')) {
    const [name, ...params] = entry.trim().split(';');
    const dur = params.map((p) => /^\s*dur=([0-9.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
    if (names.has(name) && dur !== undefined) out[name as StageName] = Number(dur);
  }
  return out;
}
