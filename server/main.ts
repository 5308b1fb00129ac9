// The signal handlers come first, before Fastify, the engines and the settings load: a SIGTERM or SIGHUP in the
// first moments of the process must not take its default action (exit 143 or 129).
import { processSignals } from './shutdown.js';

processSignals.install();
const { runServerProcess } = await import('./serve-process.js');
await runServerProcess();
