/**
 * Runs deferred callbacks at most `perTurn` per turn of the event loop (in its check phase), first in first out,
 * so that however many sockets have work ready at once, one turn does a bounded amount of it and everything else
 * on the loop (a health probe, a timer) waits for one bounded turn at most. Issue 9: a hundred uploads, or four
 * hundred connections sending their headers together, otherwise filled single turns of 40-170 ms.
 */
export class TurnPacer {
  private readonly queue: Array<(() => void) | undefined> = [];
  private head = 0;
  private scheduled = false;
  private readonly perTurn: number;

  /** @param perTurn callbacks run per turn (a positive integer). */
  constructor(perTurn: number) {
    this.perTurn = perTurn;
  }

  /** Callbacks waiting for a later turn. */
  get waiting(): number {
    return this.queue.length - this.head;
  }

  /** Runs `callback` in this turn's check phase if its share is not used up, else in a later turn. */
  defer(callback: () => void): void {
    this.queue.push(callback);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.runTurn);
  }

  private readonly runTurn = (): void => {
    const end = Math.min(this.queue.length, this.head + this.perTurn);
    // The next turn is booked first: a callback that throws must not strand the ones after it.
    this.scheduled = end < this.queue.length;
    if (this.scheduled) setImmediate(this.runTurn);
    while (this.head < end) {
      const callback = this.queue[this.head] as () => void;
      this.queue[this.head] = undefined;
      this.head += 1;
      callback();
    }
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    }
  };
}
