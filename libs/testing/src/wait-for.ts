import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitForOptions {
  /** Give up after this many milliseconds. Default 15000. */
  timeoutMs?: number;
  /** Pause between probes. Default 50. */
  intervalMs?: number;
  /** What is being waited for; leads the timeout error's message. */
  message?: string;
}

/** Thrown by {@link waitFor} when the probe never became truthy; `cause` is the probe's last error. */
export class WaitForTimeoutError extends Error {
  override name = 'WaitForTimeoutError';
}

const pending = Symbol('pending');

/**
 * Polls `probe` until it returns (or resolves to) a truthy value and resolves with that value.
 * A probe that throws or rejects counts as "not yet"; its last error is kept and reported in the
 * timeout error, because "timed out" alone hides why a condition never held. A probe that hangs
 * is abandoned at the deadline, so the timeout always holds.
 */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const intervalMs = options.intervalMs ?? 50;
  const started = Date.now();
  const deadline = started + timeoutMs;
  let lastError: unknown;
  let last: 'value' | 'error' | 'hung' = 'value';
  let lastValue: unknown;
  let attempts = 0;

  while (true) {
    attempts += 1;
    try {
      const value = await raceDeadline(probe, deadline);
      if (value === pending) {
        last = 'hung';
      } else if (value) {
        return value;
      } else {
        last = 'value';
        lastValue = value;
      }
    } catch (err) {
      last = 'error';
      lastError = err;
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    await sleep(Math.min(intervalMs, remaining));
  }

  const outcome =
    last === 'error'
      ? `last error: ${describe(lastError)}`
      : last === 'hung'
        ? 'the last probe never settled'
        : `last value: ${describe(lastValue)}`;
  // An earlier error often explains a later falsy value (e.g. a failed connect, then "no rows").
  const earlier =
    last !== 'error' && lastError !== undefined ? `; earlier error: ${describe(lastError)}` : '';
  throw new WaitForTimeoutError(
    `waitFor timed out after ${Date.now() - started} ms (${attempts} attempts) waiting for ` +
      `${options.message ?? 'condition'}; ${outcome}${earlier}`,
    lastError === undefined ? undefined : { cause: lastError },
  );
}

/** Runs the probe once; a probe still pending at the deadline yields `pending` instead. */
async function raceDeadline<T>(
  probe: () => T | Promise<T>,
  deadline: number,
): Promise<Awaited<T> | typeof pending> {
  const result = probe();
  if (!(result instanceof Promise)) return result as Awaited<T>;
  const ac = new AbortController();
  const timer = sleep<typeof pending>(Math.max(0, deadline - Date.now()), pending, {
    signal: ac.signal,
  }).catch((): typeof pending => pending);
  try {
    return await Promise.race([result as Promise<Awaited<T>>, timer]);
  } finally {
    ac.abort();
  }
}

function describe(value: unknown): string {
  if (value instanceof Error) return value.message;
  if (typeof value === 'function') return '[function]';
  try {
    return (JSON.stringify(value) ?? 'undefined').slice(0, 200);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
