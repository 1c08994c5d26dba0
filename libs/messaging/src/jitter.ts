/** How many steps each retry tier is cut into for jitter. */
export const JITTER_STEPS = 8;

/**
 * The delay queues a queue with these retry tiers needs: each tier cut into `JITTER_STEPS`
 * equal steps (a tier of 8 s has queues of 1, 2, … 8 s).
 */
export function delayLadder(tiers: readonly number[]): number[] {
  const delays = new Set<number>();
  for (const tier of tiers) {
    for (let k = 1; k <= JITTER_STEPS; k += 1)
      delays.add(Math.max(1, Math.round((tier * k) / JITTER_STEPS)));
  }
  return [...delays].sort((a, b) => a - b);
}

/**
 * A deferral's delay (a platform's breaker is open until `delayMs`): never sooner, since the job
 * would only be deferred again, but spread over up to twice as long, among the ladder's delays.
 */
export function deferredDelay(
  delayMs: number,
  ladder: readonly number[],
  random: () => number = Math.random,
): number {
  const fits = ladder.filter((d) => d >= delayMs && d <= 2 * delayMs);
  if (fits.length === 0) return ladder.find((d) => d >= delayMs) ?? ladder.at(-1) ?? delayMs;
  return fits[Math.min(fits.length - 1, Math.floor(random() * fits.length))]!;
}

/** Doublings of a backoff deferral's delay at most: a deferral waits up to 8 × its first delay. */
const MAX_BACKOFF_DOUBLINGS = 3;

/**
 * The delay of the `deferrals`-th backoff deferral in a row (0 for the first): `delayMs` doubled
 * that many times, at most {@link MAX_BACKOFF_DOUBLINGS}.
 */
export function backoffDelay(delayMs: number, deferrals: number): number {
  return delayMs * 2 ** Math.min(Math.max(0, deferrals), MAX_BACKOFF_DOUBLINGS);
}

/**
 * The delay of a deferral that must come back by `delayMs` (its job holds a booked turn then):
 * the longest of the ladder's delays not over it, or its shortest.
 */
export function deferredByDelay(delayMs: number, ladder: readonly number[]): number {
  return ladder.findLast((d) => d <= delayMs) ?? ladder[0] ?? delayMs;
}

/**
 * Full jitter, in steps: a delay drawn evenly from the tier's steps (1/8 … 8/8 of it), so
 * deliveries that failed together — a platform outage fails every job at once — come back
 * spread over the whole tier instead of all in the same second. `atLeast` (a platform's
 * Retry-After) is honoured: the delay is the first step at or above it, else the tier's longest.
 */
export function jitteredDelay(
  tier: number,
  ladder: readonly number[],
  random: () => number = Math.random,
  atLeast = 0,
): number {
  const k = 1 + Math.min(JITTER_STEPS - 1, Math.floor(random() * JITTER_STEPS));
  const drawn = Math.max(1, Math.round((tier * k) / JITTER_STEPS));
  if (drawn >= atLeast) return drawn;
  return ladder.find((d) => d >= atLeast) ?? ladder.at(-1) ?? drawn;
}
