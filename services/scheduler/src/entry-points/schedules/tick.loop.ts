import type { Logger } from '@psc/telemetry';
import type { TickResult } from '../../data-access/tick.store.ts';

/**
 * The least time from one tick's start to an early one: at least twice what the tick took, so
 * schedules due at many different moments (jitter) cannot keep the leader ticking more than
 * half the time, and never under 20 ms.
 */
const MIN_GAP_MS = 20;

/**
 * Runs the tick every `tickMs` (measured start to start, so a slow tick does not drift the
 * schedule), and sooner when the leader's tick says a schedule falls due before then: a run
 * starts at its time, not up to `tickMs` later. Errors are logged and the next tick tries
 * again: losing the database for a while just means this replica is not leader meanwhile.
 */
export function createTickLoop(deps: {
  tick: () => Promise<TickResult>;
  tickMs: number;
  logger: Logger;
  onLeaderChange?: (leader: boolean) => void;
}) {
  const log = deps.logger.child({ component: 'tick-loop' });
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let current: Promise<void> | undefined;
  let leader = false;

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

  function schedule(startedAt: number, wakeAt?: number): void {
    if (!running) return;
    const interval = startedAt + deps.tickMs;
    const tookMs = Date.now() - startedAt;
    const at =
      wakeAt !== undefined && wakeAt < interval
        ? Math.min(interval, Math.max(wakeAt, startedAt + Math.max(MIN_GAP_MS, 2 * tookMs)))
        : interval;
    timer = setTimeout(
      () => {
        const started = Date.now();
        current = once().then((wake) => schedule(started, wake));
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
      if (timer) clearTimeout(timer);
      await current;
    },
  };
}
