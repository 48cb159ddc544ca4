/**
 * Callers of `Subscription.next` waiting for records that background fetchers (Kafka fetch loop, Pub/Sub
 * pullers) put into a buffer: a wait ends when data arrives, the subscription closes or fails, or the
 * caller's `maxWaitMs` runs out, whichever comes first.
 */
export class DataWaiters {
  private waiting: Array<() => void> = [];

  /** Resolves on the next `wake()` or after `maxWaitMs`. */
  wait(maxWaitMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, maxWaitMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.waiting.push(done);
    });
  }

  /** Ends every wait now. */
  wake(): void {
    for (const w of this.waiting.splice(0)) w();
  }
}
