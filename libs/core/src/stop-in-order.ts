/** One named part of a stop: a step's name, and what stops it. */
export type StopStep = readonly [name: string, stop: () => unknown];

/** A stop in which some steps failed; each was reported as it failed, with its own error. */
export class StopFailedError extends Error {
  readonly steps: string[];
  readonly causes: unknown[];

  constructor(steps: string[], causes: unknown[]) {
    super(`failed to stop: ${steps.join(', ')}`, { cause: causes[0] });
    this.name = 'StopFailedError';
    this.steps = steps;
    this.causes = causes;
  }
}

/**
 * Runs every step in order, each even when one before it failed: a part that fails to stop must
 * not leave the parts after it running (consumers still taking jobs, a pool left open, log lines
 * and spans never sent). `failed` hears of each failure as it happens; once every step has run,
 * the stop fails with all of them.
 */
export async function stopInOrder(
  steps: readonly StopStep[],
  failed: (step: string, err: unknown) => void,
): Promise<void> {
  const names: string[] = [];
  const causes: unknown[] = [];
  for (const [name, stop] of steps) {
    try {
      await stop();
    } catch (err) {
      failed(name, err);
      names.push(name);
      causes.push(err);
    }
  }
  if (names.length > 0) throw new StopFailedError(names, causes);
}
