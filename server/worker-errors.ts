import { errorRow, errorRowNamed } from './error-table.js';

/**
 * Errors crossing the worker-thread boundary. Structured clone keeps only message and a standard name, so an error
 * whose class the error table gives a wire form travels as its class name and constructor arguments and is rebuilt
 * here; any other as its message.
 */
export type WireError = { name: string; args: unknown[] } | { name: 'Error'; message: string };

export function toWire(error: unknown): WireError {
  const entry = errorRow(error);
  if (entry?.wire) return { name: entry.type.name, args: entry.wire(error as Error) };
  return { name: 'Error', message: error instanceof Error ? error.message : String(error) };
}

export function fromWire(wire: WireError): Error {
  const entry = 'args' in wire ? errorRowNamed(wire.name) : undefined;
  if (entry && 'args' in wire) return Reflect.construct(entry.type, wire.args) as Error;
  return new Error(`inference worker: ${'message' in wire ? wire.message : wire.name}`);
}
