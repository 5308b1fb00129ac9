/**
 * A Range header read as RFC 9110 §14.1.2 and §14.2 define it, for a file of `size` bytes:
 * - 'ignore': not a valid `bytes=` range set (unknown unit, junk, first > last): the whole file is answered, 200;
 * - 'unsatisfiable': valid, but no range starts inside the file (or a suffix is 0 bytes long): 416;
 * - 'serve': at least one range selects bytes.
 */
export function byteRanges(header: string, size: number): 'ignore' | 'unsatisfiable' | 'serve' {
  const match = /^bytes=(.*)$/i.exec(header.trim());
  if (!match) return 'ignore';
  const specs = match[1].split(',').map((spec) => spec.trim());
  let satisfiable = false;
  for (const spec of specs) {
    // Empty list elements are allowed by the list rule (RFC 9110 §5.6.1), as long as one range remains.
    if (spec === '') continue;
    const range = /^(\d+)-(\d*)$/.exec(spec);
    if (range) {
      const first = Number(range[1]);
      if (range[2] !== '' && Number(range[2]) < first) return 'ignore';
      if (first < size) satisfiable = true;
      continue;
    }
    const suffix = /^-(\d+)$/.exec(spec);
    if (!suffix) return 'ignore';
    if (Number(suffix[1]) > 0 && size > 0) satisfiable = true;
  }
  if (specs.every((spec) => spec === '')) return 'ignore';
  return satisfiable ? 'serve' : 'unsatisfiable';
}
