/**
 * Wakes the requests of this replica that wait for a platform's request slot when one is freed:
 * by a request of this replica, or (heard through PostgreSQL) of another. Each platform has a
 * generation, bumped at every free slot; a waiter reads it before it tries for a slot, and if
 * the generation moved while it tried, it tries again at once. So a slot freed between a failed
 * try and the wait is not missed.
 */
export function createSlotWakeups() {
  const generations = new Map<string, number>();
  const waiters = new Map<string, Set<() => void>>();

  function freed(platformId: string): void {
    generations.set(platformId, (generations.get(platformId) ?? 0) + 1);
    const woken = waiters.get(platformId);
    if (!woken) return;
    waiters.delete(platformId);
    for (const wake of woken) wake();
  }

  return {
    freed,
    /** Every platform's slots may have freed unheard (the listener was away). */
    freedAll(): void {
      for (const platformId of [...waiters.keys()]) freed(platformId);
    },
    generation: (platformId: string): number => generations.get(platformId) ?? 0,
    /** Requests waiting now for a slot, by platform (those asking PostgreSQL at this moment aside). */
    waiting(): { platformId: string; count: number }[] {
      return [...waiters].map(([platformId, set]) => ({ platformId, count: set.size }));
    },
    /**
     * Resolves when a slot of the platform frees after generation `seen`, after `ms` at the
     * latest, or at once when one freed already. Rejects when `signal` aborts.
     */
    wait(platformId: string, seen: number, ms: number, signal?: AbortSignal): Promise<void> {
      if ((generations.get(platformId) ?? 0) !== seen) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        let set = waiters.get(platformId);
        if (!set) waiters.set(platformId, (set = new Set()));
        const done = (): void => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          const mine = waiters.get(platformId);
          mine?.delete(wake);
          if (mine?.size === 0) waiters.delete(platformId);
        };
        const wake = (): void => {
          done();
          resolve();
        };
        const onAbort = (): void => {
          done();
          reject(signal?.reason as Error);
        };
        const timer = setTimeout(wake, ms);
        set.add(wake);
        if (signal?.aborted) onAbort();
        else signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
  };
}
