/** How closely int8 output follows fp32: the masks' pixel agreement and the logits' signal-to-quantisation-noise ratio. */

/** Percentage of pixels where two class maps (same size) agree. */
export function argmaxAgreementPct(reference: Uint8Array, other: Uint8Array): number {
  if (reference.length !== other.length) throw new RangeError(`class maps differ in size: ${reference.length} vs ${other.length}`);
  let same = 0;
  for (let i = 0; i < reference.length; i++) if (reference[i] === other[i]) same++;
  return (100 * same) / reference.length;
}

/** 10 log10(Σ ref² / Σ (ref - other)²) in dB: Infinity when identical. */
export function sqnrDb(reference: Float32Array, other: Float32Array): number {
  if (reference.length !== other.length) throw new RangeError(`logits differ in size: ${reference.length} vs ${other.length}`);
  let signal = 0;
  let noise = 0;
  for (let i = 0; i < reference.length; i++) {
    signal += reference[i] ** 2;
    noise += (reference[i] - other[i]) ** 2;
  }
  return 10 * Math.log10(signal / noise);
}
