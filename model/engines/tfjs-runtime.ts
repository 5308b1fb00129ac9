/**
 * Picks the TensorFlow.js backend once per process (or worker thread): tfjs-node's native TensorFlow when its
 * optional install succeeded, else WebAssembly (SIMD) with its .wasm files read from node_modules by path,
 * else the plain JavaScript cpu backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import path from 'node:path';

export type TfjsBackendName = 'tensorflow' | 'wasm' | 'cpu';
export const TFJS_BACKENDS: readonly TfjsBackendName[] = ['tensorflow', 'wasm', 'cpu'];

let ready: Promise<TfjsBackendName> | undefined;
let requested: TfjsBackendName | undefined;

async function tryTensorflow(): Promise<boolean> {
  try {
    // Optional dependency: absent wherever its libtensorflow download could not run.
    await import('@tensorflow/tfjs-node' as string);
    return await tf.setBackend('tensorflow');
  } catch {
    return false;
  }
}

async function tryWasm(): Promise<boolean> {
  try {
    const require = createRequire(import.meta.url);
    const pkg = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
    // A directory prefix: the backend appends the .wasm file name it needs (SIMD or not).
    setWasmPaths(path.join(pkg, 'dist') + path.sep);
    return await tf.setBackend('wasm');
  } catch {
    return false;
  }
}

const ATTEMPTS: Record<TfjsBackendName, () => Promise<boolean>> = {
  tensorflow: tryTensorflow,
  wasm: tryWasm,
  cpu: () => tf.setBackend('cpu'),
};

async function select(preferred?: TfjsBackendName): Promise<TfjsBackendName> {
  // Production mode skips per-op debug checks and the banner suggesting tfjs-node: we choose deliberately.
  tf.enableProdMode();
  const order = preferred ? [preferred] : TFJS_BACKENDS;
  for (const name of order) {
    if (await ATTEMPTS[name]()) {
      await tf.ready();
      return name;
    }
  }
  throw new Error(`TensorFlow.js backend ${order.join(', ')} could not be initialised`);
}

/**
 * Initialise tfjs once; later calls return the same backend. `preferred` (config `CITYSEG_TFJS_BACKEND`) forces one
 * backend and fails if it cannot load.
 */
export function initTfjs(preferred?: TfjsBackendName): Promise<TfjsBackendName> {
  if (ready && preferred && requested !== preferred && tf.getBackend() !== preferred) {
    throw new Error(`TensorFlow.js already runs on ${tf.getBackend()}; cannot switch to ${preferred}`);
  }
  if (!ready) {
    requested = preferred;
    ready = select(preferred);
  }
  return ready;
}

export { tf };
