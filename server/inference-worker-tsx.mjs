// Worker entry when the server runs from TypeScript sources under tsx: worker threads do not get
// tsx's loader from `--import tsx` (privatenumber/tsx#354), so register it here, then load the worker.
// The compiled server (dist/) starts inference-worker.js directly and never uses this file.
import { register } from 'tsx/esm/api';

register();
const worker = await import('./inference-worker.ts');
export default worker.default;
