/**
 * ONNX Runtime is the fast engine, and an optional dependency: npm drops onnxruntime-node where its install script
 * fails (by default it fetches CUDA libraries from NuGet, which fails offline) and where it has no prebuilt binary.
 * `engine: 'auto'` then runs TensorFlow.js, and every surface (start-up log, /v1/models `backend`, CLI warning,
 * bench) says so with the one-line fix below. The import is dynamic so a missing package is not fatal.
 */
import type { OnnxEngine } from './onnx-engine.js';

/** What `backend` says (after the TensorFlow.js backend's name) when `auto` fell back because ONNX Runtime is missing. */
export const ONNX_FALLBACK_NOTE = 'onnxruntime-node missing';

/**
 * The one line that brings onnxruntime-node back where npm dropped it: the user's install again, in their project
 * (with -g for a global install), without the CUDA download that made its install script fail. npm re-adds a missing
 * optional dependency its lockfile names; the CPU binaries are in the package itself.
 */
export const ONNX_INSTALL_FIX = 'ONNXRUNTIME_NODE_INSTALL=skip npm install';

/** Why ONNX Runtime is not running and how to get it, for one line: `cause` is the import's failure. */
export function onnxMissingMessage(cause?: string): string {
  return `onnxruntime-node is not installed or does not load here${cause ? ` (${cause})` : ''}; to get it, run your install again as: ${ONNX_INSTALL_FIX}`;
}

/** The warning when `auto` fell back to TensorFlow.js, for one line. */
export function onnxFallbackMessage(cause?: string): string {
  return `running TensorFlow.js (several times slower) instead of ONNX Runtime: ${onnxMissingMessage(cause)}`;
}

/** True for a `backend` that `auto` chose because ONNX Runtime is missing (see ONNX_FALLBACK_NOTE). */
export function isOnnxFallback(backend: string): boolean {
  return backend.endsWith(`(${ONNX_FALLBACK_NOTE})`);
}

let loading: Promise<{ engine: typeof OnnxEngine } | { error: string }> | undefined;

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}

/** The OnnxEngine class, or why onnxruntime-node cannot load here (checked once per process). */
export function loadOnnxEngine(): Promise<{ engine: typeof OnnxEngine } | { error: string }> {
  loading ??= import('./onnx-engine.js').then(
    (m) => ({ engine: m.OnnxEngine }),
    (err: unknown) => ({ error: firstLine(err) }),
  );
  return loading;
}

/**
 * The warning for an engine whose `backend` says `auto` fell back to TensorFlow.js (isOnnxFallback), with the
 * import's failure and the fix; undefined for any other backend.
 */
export async function onnxFallbackWarning(backend: string): Promise<string | undefined> {
  if (!isOnnxFallback(backend)) return undefined;
  const loaded = await loadOnnxEngine();
  return onnxFallbackMessage('error' in loaded ? loaded.error : undefined);
}
