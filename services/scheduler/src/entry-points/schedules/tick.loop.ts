import type { Logger } from '@psc/telemetry';
import type { TickResult } from '../../data-access/tick.store.ts';

/**
 * The least time from one tick's start to an early one: at least twice what the tick took (its
 * plan made ahead included), so schedules due at many different moments (jitter) cannot keep
 * the leader ticking more than half the time, and never under 20 ms.
 */
const MIN_GAP_MS = 20;

/**
 * Runs the tick every `tickMs` (measured start to start, so a slow tick does not drift the
 * schedule), and sooner when the leader's tick says a schedule falls due before then: a run
 * starts at its time, not up to `tickMs` later; the plan of that instant is made ahead of it,
 * so its tick only writes (`prepare`). Errors are logged and the next tick tries again: losing
 * the database for a while just means this replica is not leader meanwhile.
 */
export function createTickLoop(deps: {
  tick: () => Promise<TickResult>;
  tickMs: number;
  logger: Logger;
  onLeaderChange?: (leader: boolean) => void;
  /**
   * Makes the plan of the instant a leader's tick wakes for, `leadMs()` before it, so that
   * tick only writes it (tick.store.ts `prepare`).
   */
  prepare?: { run: (at: Date) => Promise<void>; leadMs: () => number };
}) {
  const log = deps.logger.child({ component: 'tick-loop' });
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let current: Promise<void> | undefined;
  let leader = false;
  let prepareTimer: NodeJS.Timeout | undefined;
  let preparing: Promise<void> | undefined;
  /** The instant the last preparation was for: one per instant, whatever ticks come between. */
  let preparedFor: number | undefined;
  /** How long the preparation for the next tick took: it counts as that tick's time. */
  let preparedMs = 0;

  /** Prepares the plan of `wakeAt` unless the next regular tick comes before it is time to. */
  function planAhead(wakeAt: number, nextTickAt: number): void {
    const prepare = deps.prepare;
    if (!prepare || preparedFor === wakeAt) return;
    const startAt = wakeAt - prepare.leadMs();
    if (startAt >= nextTickAt) return;
    preparedFor = wakeAt;
    clearTimeout(prepareTimer);
    prepareTimer = setTimeout(
      () => {
        const started = Date.now();
        const done = prepare
          .run(new Date(wakeAt))
          .catch((err: unknown) =>
            log.warn(
              { err: err instanceof Error ? err.message : String(err) },
              'plan ahead failed; the tick plans itself',
            ),
          )
          .finally(() => {
            preparedMs = Date.now() - started;
            if (preparing === done) preparing = undefined;
          });
        preparing = done;
      },
      Math.max(0, startAt - Date.now()),
    );
  }

  /** Runs one tick; answers when a schedule wants the next one sooner than the interval. */
  async function once(): Promise<number | undefined> {
    try {
      const result = await deps.tick();
      if (result.leader !== leader) {
        leader = result.leader;
        log.info({ leader }, leader ? 'became scheduler leader' : 'not scheduler leader');
        deps.onLeaderChange?.(leader);
      }
      if (result.enqueued > 0 || result.cancelled > 0) log.debug(result, 'tick');
      return result.wakeAt?.getTime();
    } catch (err) {
      log.warn({ err: err instanceof Error ? err.message : String(err) }, 'tick failed');
      return undefined;
    }
  }

  function schedule(startedAt: number, wakeAt?: number, aheadMs = 0): void {
    if (!running) return;
    const interval = startedAt + deps.tickMs;
    const tookMs = Date.now() - startedAt + aheadMs;
    const at =
      wakeAt !== undefined && wakeAt < interval
        ? Math.min(interval, Math.max(wakeAt, startedAt + Math.max(MIN_GAP_MS, 2 * tookMs)))
        : interval;
    if (wakeAt !== undefined) planAhead(wakeAt, at);
    timer = setTimeout(
      () => {
        const started = Date.now();
        // A plan being made ahead for this instant is waited for, not made a second time.
        current = (preparing ?? Promise.resolve()).then(() => {
          // Counted for the tick of the due time it was made for, not a regular one before it.
          const forThisTick = preparedFor !== undefined && started >= preparedFor;
          const aheadMs = forThisTick ? preparedMs : 0;
          if (forThisTick) preparedMs = 0;
          return once().then((wake) => schedule(started, wake, aheadMs));
        });
      },
      Math.max(0, at - Date.now()),
    );
  }

  return {
    isLeader: () => leader,
    start(): void {
      if (running) return;
      running = true;
      schedule(Date.now() - deps.tickMs);
    },
    async stop(): Promise<void> {
      running = false;
      clearTimeout(timer);
      clearTimeout(prepareTimer);
      await Promise.all([current, preparing]);
    },
  };
}
