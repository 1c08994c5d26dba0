import type { Logger } from '@psc/telemetry';
import type { TickResult } from '../../data-access/tick.store.ts';

/**
 * Runs the tick every `tickMs` (measured start to start, so a slow tick does not drift the
 * schedule). Errors are logged and the next tick tries again: losing the database for a while
 * just means this replica is not leader meanwhile.
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

  async function once(): Promise<void> {
    try {
      const result = await deps.tick();
      if (result.leader !== leader) {
        leader = result.leader;
        log.info({ leader }, leader ? 'became scheduler leader' : 'not scheduler leader');
        deps.onLeaderChange?.(leader);
      }
      if (result.enqueued > 0 || result.cancelled > 0) log.debug(result, 'tick');
    } catch (err) {
      log.warn({ err: err instanceof Error ? err.message : String(err) }, 'tick failed');
    }
  }

  function schedule(startedAt: number): void {
    if (!running) return;
    const wait = Math.max(0, startedAt + deps.tickMs - Date.now());
    timer = setTimeout(() => {
      const started = Date.now();
      current = once().finally(() => schedule(started));
    }, wait);
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
