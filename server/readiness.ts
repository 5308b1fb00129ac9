import fp from 'fastify-plugin';

/**
 * Whether the service should receive traffic: models loaded and warmed, not shutting down, and room in the memory
 * budget for a request (a budget with no room would refuse every request while the probe said ready).
 */
export class Readiness {
  private reason: string | null = 'models are not loaded yet';
  private memoryReason: string | null = null;

  get ready(): boolean {
    return this.notReadyReason === null;
  }

  /** Why the service is not ready, or null when it is. */
  get notReadyReason(): string | null {
    return this.reason ?? this.memoryReason;
  }

  markReady(): void {
    this.reason = null;
  }

  markNotReady(reason: string): void {
    this.reason = reason;
  }

  /** Why the memory budget leaves no room for requests, or null once it does again. */
  setMemoryShortage(reason: string | null): void {
    this.memoryReason = reason;
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Whether the service should receive traffic, and why not. */
    readiness: Readiness;
  }
}

/** Decorates `readiness` (not ready until the models are loaded). */
export const readinessState = fp(
  async (app) => {
    app.decorate('readiness', new Readiness());
  },
  { name: 'cityseg-readiness' },
);
