/**
 * How long a delivery the infrastructure could not take (its database away, say) waits before it
 * is tried again: from 0.5 s, doubling while failures last, up to 30 s, and from 0.5 s again once
 * one succeeds. One per consumer, so a failing database is not asked more often the more messages
 * wait, and a consumer that recovered does not keep the long wait.
 */
export function createHold(minMs = 500, maxMs = 30_000) {
  let next = minMs;
  return {
    /** The wait for this failure; the next one waits twice as long. */
    take(): number {
      const ms = next;
      next = Math.min(next * 2, maxMs);
      return ms;
    },
    reset(): void {
      next = minMs;
    },
  };
}

export type Hold = ReturnType<typeof createHold>;
