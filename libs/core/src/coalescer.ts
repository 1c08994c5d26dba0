import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Group commit for request/reply: calls made while `maxInFlight` batches are on their way wait
 * and go together in the next one (at most `maxBatch` each). With one caller nothing waits; with
 * many, one round trip and one transaction serve them all.
 */
export function createCoalescer<I, O>(options: {
  /** Sends a batch; answers one result per item, in order. */
  send: (items: I[]) => Promise<O[]>;
  maxBatch: number;
  maxInFlight?: number;
}): (item: I) => Promise<O> {
  const maxInFlight = options.maxInFlight ?? 1;
  let waiting: {
    item: I;
    /**
     * Runs a function in the caller's async context (its trace, its logger's bindings); kept
     * only for a batch's first item (a snapshot costs ~2 µs).
     */
    inContext?: <R>(fn: () => R) => R;
    resolve: (o: O) => void;
    reject: (err: unknown) => void;
  }[] = [];
  let inFlight = 0;
  let scheduled = false;

  function flush(): void {
    scheduled = false;
    while (inFlight < maxInFlight && waiting.length > 0) {
      const batch = waiting.slice(0, options.maxBatch);
      waiting = waiting.slice(batch.length);
      inFlight += 1;
      // In the first caller's context, not in whichever ended the previous batch: the call's
      // spans go in the trace of a request it carries.
      const sendBatch = () => options.send(batch.map((w) => w.item));
      (batch[0]!.inContext?.(sendBatch) ?? sendBatch())
        .then(
          (results) =>
            batch.forEach((w, i) =>
              i < results.length
                ? w.resolve(results[i]!)
                : w.reject(new Error('the batch answered fewer results than it was sent')),
            ),
          (err: unknown) => batch.forEach((w) => w.reject(err)),
        )
        .finally(() => {
          inFlight -= 1;
          flush();
        });
    }
  }

  return (item) =>
    new Promise<O>((resolve, reject) => {
      // Batches are taken from the front, maxBatch at a time (or all there is): an item at a
      // multiple of maxBatch is a batch's first.
      const first = waiting.length % options.maxBatch === 0;
      waiting.push({
        item,
        ...(first ? { inContext: AsyncLocalStorage.snapshot() } : {}),
        resolve,
        reject,
      });
      // Calls made in the same turn join one batch.
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
}
