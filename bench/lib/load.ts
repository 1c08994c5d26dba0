import { setTimeout as sleep } from 'node:timers/promises';

/** Calls `task(k)` for k = 0..count-1 with at most `concurrency` in flight; results in order. */
export async function runConcurrently<T>(
  count: number,
  concurrency: number,
  task: (k: number) => Promise<T>,
): Promise<T[]> {
  const results: T[] = new Array<T>(count);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const k = next++;
      results[k] = await task(k);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  return results;
}

/**
 * Open-loop load: starts `task(k)` at `start + k / rate` whatever the earlier calls are doing,
 * so a slow system meets a growing backlog instead of a politely slowing client.
 */
export async function runPaced<T>(
  count: number,
  ratePerSecond: number,
  task: (k: number) => Promise<T>,
): Promise<T[]> {
  const start = performance.now();
  const pending: Promise<T>[] = [];
  for (let k = 0; k < count; k++) {
    const due = start + (k * 1000) / ratePerSecond;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    pending.push(task(k));
  }
  return Promise.all(pending);
}
