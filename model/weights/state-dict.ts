/** One named parameter or buffer of a torch state_dict, converted to float32, row-major. */
export interface WeightTensor {
  shape: number[];
  data: Float32Array;
}

/** A torch state_dict keyed by torchvision's parameter names, in file order. */
export type StateDict = Map<string, WeightTensor>;
