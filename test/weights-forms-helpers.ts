/** The checkpoint forms of scripts/make_weights_forms.py and their expected logits. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Float32Tensor } from '../model/engines/engine.js';
import { readNpy } from '../model/npy.js';

export const FORMS_DIR = fileURLToPath(new URL('./fixtures/weights/forms/', import.meta.url));
export const PARITY_IMAGE = fileURLToPath(new URL('./fixtures/parity/street_64x96.png', import.meta.url));

export interface FormsManifest {
  arch: 'lraspp_mobilenet_v3_small';
  numClasses: number;
  image: string;
  expected: string;
  emaBiasShift: number[];
  parity: string[];
  voc21: { file: string; numClasses: number };
}

export const formsManifest = JSON.parse(readFileSync(FORMS_DIR + 'manifest.json', 'utf8')) as FormsManifest;

/** torchvision's logits [1, C, H, W] for the float16 weights every parity form holds. */
export function expectedLogits(): Float32Tensor {
  return readNpy(readFileSync(FORMS_DIR + formsManifest.expected), formsManifest.expected);
}

/** The EMA entry's logits: the model's plus the per-class bias shift (bilinear upsampling keeps a constant). */
export function expectedEmaLogits(): Float32Tensor {
  const base = expectedLogits();
  const [, channels, height, width] = base.shape;
  const data = base.data.slice();
  for (let c = 0; c < channels; c++) {
    for (let i = 0; i < height * width; i++) data[c * height * width + i] += formsManifest.emaBiasShift[c];
  }
  return { data, shape: base.shape };
}
