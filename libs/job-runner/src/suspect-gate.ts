/**
 * Runs a delivery that came back after its worker died ("suspect") alone in this process: it
 * waits for the runs in flight to end, and no other run starts until it has ended. A worker that
 * dies then dies of that run, so only that run's crash count grows — the jobs that merely shared
 * the dead worker with a crashing one (its prefetch) are not given up as `crash_loop` with it.
 * Suspects are rare (after a crash), so the lost concurrency is too.
 */
interface SuspectGate {
  /** Runs `work` alongside other ordinary runs, unless a suspect runs or waits. */
  ordinary<T>(work: () => Promise<T>): Promise<T>;
  /** Runs `work` alone. */
  alone<T>(work: () => Promise<T>): Promise<T>;
}

export function createSuspectGate(): SuspectGate {
  let running = 0;
  let aloneRunning = false;
  let aloneWaiting = 0;
  let wake: (() => void)[] = [];

  const changed = (): void => {
    const waiting = wake;
    wake = [];
    for (const w of waiting) w();
  };
  const changedOnce = () => new Promise<void>((resolve) => wake.push(resolve));

  return {
    async ordinary(work) {
      // Check and take in one synchronous step: no other run can slip in between.
      while (aloneRunning || aloneWaiting > 0) await changedOnce();
      running += 1;
      try {
        return await work();
      } finally {
        running -= 1;
        changed();
      }
    },
    async alone(work) {
      aloneWaiting += 1;
      while (aloneRunning || running > 0) await changedOnce();
      aloneWaiting -= 1;
      aloneRunning = true;
      try {
        return await work();
      } finally {
        aloneRunning = false;
        changed();
      }
    },
  };
}
