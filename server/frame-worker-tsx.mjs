// Frame worker entry when running from TypeScript sources under tsx (see inference-worker-tsx.mjs for why).
// The compiled build starts frame-worker.js directly and never uses this file.
import { register } from 'tsx/esm/api';

register();
const worker = await import('./frame-worker.ts');
export default worker.default;
