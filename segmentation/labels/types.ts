export type Rgb = [number, number, number];

/** One class a model can output. */
export interface LabelClass {
  /** Position in the model's output channels (the value in a ClassMap; Cityscapes trainId). */
  index: number;
  /** Dataset label id written to label-id PNGs (Cityscapes `id`, what the official evaluation reads). */
  id: number;
  name: string;
  color: Rgb;
  category?: string;
  categoryId?: number;
}

/** The classes of a model's output, in channel order (`classes[i].index === i`). */
export interface LabelSet {
  name: string;
  classes: LabelClass[];
  /** Class-map value meaning "no class" (e.g. 255 in Cityscapes trainId maps), if the dataset has one. */
  ignoreIndex?: number;
}
