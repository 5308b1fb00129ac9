/** A tensor as a checkpoint stores it: shape and element type known at once, float32 data converted on demand. */
import { DTYPES, elementCount, type DType } from './dtypes.js';

export class StoredTensor {
  readonly shape: number[];
  /** The element type in the file (float16 stays float16 here; `read` converts). */
  readonly dtype: DType;
  private readonly gather: (name: string) => Float32Array;
  constructor(shape: number[], dtype: DType, gather: (name: string) => Float32Array) {
    this.shape = shape;
    this.dtype = dtype;
    this.gather = gather;
  }

  /** Bytes the tensor's own elements take in the file (shared or larger storages not counted twice). */
  get byteLength(): number {
    return elementCount(this.shape) * DTYPES[this.dtype].itemSize;
  }

  /** The elements as row-major float32; `name` is the state-dict key, for error messages. Throws WeightsError. */
  read(name: string): Float32Array {
    return this.gather(name);
  }
}
