/** One media range of an Accept header with its quality. */
interface MediaRange {
  type: string;
  q: number;
}

function parseAccept(header: string): MediaRange[] {
  return header
    .split(',')
    .map((part) => {
      const [type, ...params] = part.trim().toLowerCase().split(';');
      const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      const q = qParam === undefined ? 1 : Number(qParam.slice(2));
      return { type: type.trim(), q: Number.isFinite(q) ? q : 0 };
    })
    .filter((range) => range.type !== '');
}

/** Quality the client gives `mediaType`: the most specific matching range wins (RFC 9110 §12.5.1). */
function qualityOf(ranges: MediaRange[], mediaType: string): number {
  const [major] = mediaType.split('/');
  const exact = ranges.find((r) => r.type === mediaType);
  if (exact) return exact.q;
  const partial = ranges.find((r) => r.type === `${major}/*`);
  if (partial) return partial.q;
  return ranges.find((r) => r.type === '*/*')?.q ?? 0;
}

/**
 * True when the Accept header names application/json explicitly and ranks it above PNG images:
 * `Accept: application/json` selects the JSON answer, `*\/*` or a browser's default does not.
 */
export function prefersJson(accept: string | undefined): boolean {
  if (!accept) return false;
  const ranges = parseAccept(accept);
  const json = ranges.find((r) => r.type === 'application/json');
  return json !== undefined && json.q > 0 && json.q > qualityOf(ranges, 'image/png');
}
