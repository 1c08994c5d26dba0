import type { Logger } from '@psc/telemetry';
import type { PlatformCheckResult } from '../../domain/platform-check.ts';

/** How often the leader looks whether a check is due. */
const POLL_MS = 5_000;
/** The first check comes this long after start (or `everyMs`, if shorter). */
const FIRST_MS = 30_000;
/** After a failed check (the registry away), the next try comes this soon. */
const RETRY_MS = 60_000;
/** Ids quoted in the log line of a repair. */
const QUOTED_IDS = 20;

/**
 * Runs the platform projection check on the leader: half a minute after start (after an upgrade
 * or a restore is when a projection is most likely stale), then every `everyMs`; a replica that
 * takes the lead over checks at once when one is due. A repair is logged as a warning (events
 * were lost or stale), with the ids; a clean check as one info line.
 */
export function createPlatformCheckLoop(deps: {
  check: () => Promise<PlatformCheckResult>;
  isLeader: () => boolean;
  everyMs: number;
  now: () => number;
  logger: Logger;
}) {
  const log = deps.logger.child({ component: 'platform-check' });
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> | undefined;
  let dueAt = 0; // set by start()

  function run(): void {
    if (!deps.isLeader() || current || deps.now() < dueAt) return;
    current = deps
      .check()
      .then(({ listed, updated, deleted }) => {
        dueAt = deps.now() + deps.everyMs;
        if (updated.length + deleted.length === 0) {
          log.info({ platforms: listed }, 'platform projection matches the registry');
          return;
        }
        log.warn(
          {
            updated: updated.length,
            deleted: deleted.length,
            platformIds: [...updated, ...deleted].slice(0, QUOTED_IDS),
          },
          'platform projection repaired from the registry',
        );
      })
      .catch((err: unknown) => {
        dueAt = deps.now() + Math.min(RETRY_MS, deps.everyMs);
        log.warn(
          { err: err instanceof Error ? err.message : String(err) },
          'platform projection check failed; it is tried again',
        );
      })
      .finally(() => (current = undefined));
  }

  return {
    start(): void {
      dueAt = deps.now() + Math.min(FIRST_MS, deps.everyMs);
      timer = setInterval(run, Math.min(POLL_MS, deps.everyMs));
      timer.unref();
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      await current;
    },
  };
}
