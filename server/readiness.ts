/** Whether the service should receive traffic: models loaded and warmed, and not shutting down. */
export class Readiness {
  private reason: string | null = 'models are not loaded yet';

  get ready(): boolean {
    return this.reason === null;
  }

  /** Why the service is not ready, or null when it is. */
  get notReadyReason(): string | null {
    return this.reason;
  }

  markReady(): void {
    this.reason = null;
  }

  markNotReady(reason: string): void {
    this.reason = reason;
  }
}
