import { AppError, delay } from '@psc/core';
import type { Logger } from '@psc/telemetry';

/** A collector stopped through this service before the scheduler owned collector stops. */
export interface LegacyStop {
  platformId: string;
  resource: string;
  stoppedAt: Date;
}

const keyOf = (platformId: string, resource: string): string => `${platformId}/${resource}`;

/**
 * Upgrade step: hands each stop this service kept itself to the scheduler, which owns them now,
 * and forgets it once the scheduler has it (or has said the collector no longer exists). It runs
 * in the background from start-up until none is left, retrying with a growing pause while the
 * scheduler or the database cannot answer; every replica does it, and a stop handed over twice
 * is still one stop. A request the scheduler refuses for good is logged and kept for the next
 * start-up.
 *
 * Until a stop is handed over it is still this service's: `holds` says so, and its scheduled runs
 * (made meanwhile by a scheduler that does not know of the stop yet) are skipped as before. Once
 * handed over, the runs queued before the scheduler took the stop are still skipped: the stop
 * cancels them in the ledger, but their `job.run`s may reach this replica after the answer and
 * before their cancellations do. The scheduler makes none after it.
 */
export function createStopHandoff(deps: {
  stops: { pending(): Promise<LegacyStop[]>; forget(stop: LegacyStop): Promise<void> };
  /** `collect.schedule.control` of the scheduler. */
  handOver: (request: {
    platformId: string;
    resource: string;
    action: 'stop';
    reason: string;
  }) => Promise<{ stoppedAt: string | null }>;
  /** `collect.schedule.stops` of the scheduler: the stops it holds, with when it took each. */
  taken: () => Promise<{ platformId: string; resource: string; stoppedAt: string | null }[]>;
  logger: Logger;
  retryMs?: { first: number; max: number };
}) {
  const { first, max } = deps.retryMs ?? { first: 500, max: 30_000 };
  const controller = new AbortController();
  /**
   * The stops this replica holds, by collector: `null` until handed over (every scheduled run is
   * skipped), then the time the scheduler took it (runs queued by then are skipped).
   */
  const held = new Map<string, Date | null>();
  const refused = new Set<string>();
  let running: Promise<void> | undefined;

  /** One pass over what is left; true when nothing is left to try again. */
  async function pass(): Promise<boolean> {
    const pending = await deps.stops.pending();
    const left = new Set(pending.map((s) => keyOf(s.platformId, s.resource)));
    const gone = [...held].filter(([key, since]) => since === null && !left.has(key));
    if (gone.length > 0) {
      // Another replica handed these over: the times the scheduler took them take their place
      // (none when a stop was lifted since).
      const taken = new Map(
        (await deps.taken()).map((s) => [keyOf(s.platformId, s.resource), s.stoppedAt]),
      );
      for (const [key] of gone) {
        const at = taken.get(key);
        if (at) held.set(key, new Date(at));
        else held.delete(key);
      }
    }
    let retry = false;
    for (const stop of pending) {
      if (controller.signal.aborted) return true;
      const key = keyOf(stop.platformId, stop.resource);
      if (refused.has(key)) continue;
      const log = { platformId: stop.platformId, resource: stop.resource };
      let taken: Date | undefined;
      try {
        const state = await deps.handOver({
          platformId: stop.platformId,
          resource: stop.resource,
          action: 'stop',
          reason: `stopped on the collector before the upgrade (${stop.stoppedAt.toISOString()})`,
        });
        if (state.stoppedAt !== null) taken = new Date(state.stoppedAt);
        deps.logger.info(log, 'collector stop handed to the scheduler');
      } catch (err) {
        if (!(err instanceof AppError) || err.retryable) {
          retry = true;
          deps.logger.warn({ ...log, err: String(err) }, 'collector stop not handed over yet');
          continue;
        }
        if (err.status !== 404) {
          refused.add(key);
          deps.logger.error(
            { ...log, err: String(err) },
            'collector stop refused by the scheduler',
          );
          continue;
        }
        deps.logger.info(log, 'collector stop dropped: the collector no longer exists');
      }
      await deps.stops.forget(stop);
      if (taken && held.has(key)) held.set(key, taken);
      else held.delete(key);
    }
    return !retry;
  }

  async function run(): Promise<void> {
    for (let wait = first; !controller.signal.aborted; wait = Math.min(wait * 2, max)) {
      try {
        if (await pass()) return;
      } catch (err) {
        deps.logger.warn({ err: String(err) }, 'collector stops not handed over yet');
      }
      await delay(wait, controller.signal).catch(() => undefined);
    }
  }

  return {
    /** Reads the stops left (before any job is taken), then hands them over in the background. */
    async start(): Promise<void> {
      if (running) return;
      for (const stop of await deps.stops.pending()) {
        held.set(keyOf(stop.platformId, stop.resource), null);
      }
      running = run();
    },
    /**
     * Whether a scheduled run of this collector, queued at `queuedAt`, is one this service's stop
     * skips: the stop is not handed over yet, or the run was queued before the scheduler took it.
     */
    holds: (platformId: string, resource: string, queuedAt: Date): boolean => {
      if (held.size === 0) return false;
      const since = held.get(keyOf(platformId, resource));
      return since === null || (since !== undefined && queuedAt <= since);
    },
    /** Stops retrying; resolves once the pass under way has ended. */
    async stop(): Promise<void> {
      controller.abort();
      await running;
    },
  };
}
