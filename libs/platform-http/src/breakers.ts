import CircuitBreaker from 'opossum';
import { AppError } from '@psc/core';
import type { PlatformWithSecrets as Platform } from '@psc/contracts';
import { PlatformDeferral } from './deferrals.ts';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerChange {
  platformId: string;
  state: BreakerState;
  at: Date;
}

export interface BreakerLogger {
  info(obj: object, msg: string): void;
}

interface Entry {
  version: number;
  breaker: CircuitBreaker<[() => Promise<unknown>], unknown>;
  openedAt: Date | undefined;
}

/**
 * One opossum breaker per platform in this process, built from the platform's settings and
 * rebuilt when the platform's version changes. Only failures that say the platform is unwell
 * (retryable ones) count. An open breaker throws a deferral (`DeferError`), so the job waits for
 * the half-open probe without burning an attempt or reaching the dead-letter queue.
 */
export function createPlatformBreakers(options: {
  logger: BreakerLogger;
  onChange?: (change: BreakerChange) => void;
  /**
   * Asked while a breaker is open: whether an operator reset it (somewhere shared) after it
   * opened at `openedAt`. True closes the breaker before the call.
   */
  resetRequested?: (platformId: string, openedAt: Date) => Promise<boolean>;
  /** Upper bound of a deferral, so a long `resetTimeoutMs` still re-checks resets. Default 30 s. */
  maxDeferMs?: number;
}) {
  const entries = new Map<string, Entry>();
  const maxDeferMs = options.maxDeferMs ?? 30_000;

  function track(platformId: string, entry: Entry, state: BreakerState): void {
    const at = new Date();
    if (state === 'open') entry.openedAt = at;
    options.logger.info({ platformId, state }, 'breaker state changed');
    options.onChange?.({ platformId, state, at });
  }

  function entryFor(platform: Platform): Entry {
    const existing = entries.get(platform.id);
    if (existing && existing.version === platform.version) return existing;
    existing?.breaker.shutdown();
    const breaker = new CircuitBreaker((task: () => Promise<unknown>) => task(), {
      timeout: false, // each request has its own timeout
      errorThresholdPercentage: platform.breaker.errorThresholdPercentage,
      volumeThreshold: platform.breaker.volumeThreshold,
      resetTimeout: platform.breaker.resetTimeoutMs,
      errorFilter: (err: unknown) => err instanceof AppError && !err.retryable,
    });
    const entry: Entry = { version: platform.version, breaker, openedAt: undefined };
    breaker.on('open', () => track(platform.id, entry, 'open'));
    breaker.on('halfOpen', () => track(platform.id, entry, 'half-open'));
    breaker.on('close', () => track(platform.id, entry, 'closed'));
    entries.set(platform.id, entry);
    return entry;
  }

  return {
    /**
     * Runs `task` through the platform's breaker. `admit` (the platform's rate and concurrency
     * limits) wraps the breaker's own call: it is passed only when the breaker is not open, and
     * its deferral of a job is not a call the breaker counts, either way.
     */
    async fire<T>(
      platform: Platform,
      task: () => Promise<T>,
      admit?: (call: () => Promise<T>) => Promise<T>,
    ): Promise<T> {
      const entry = entryFor(platform);
      if (entry.breaker.opened && entry.openedAt && options.resetRequested) {
        if (await options.resetRequested(platform.id, entry.openedAt)) entry.breaker.close();
      }
      const open = () =>
        new PlatformDeferral(
          'breaker',
          `breaker for platform ${platform.name} is open`,
          Math.min(platform.breaker.resetTimeoutMs, maxDeferMs),
        );
      if (entry.breaker.opened) throw open();
      const call = async () => {
        try {
          return (await entry.breaker.fire(task)) as T;
        } catch (err) {
          if ((err as { code?: string }).code === 'EOPENBREAKER') throw open();
          throw err;
        }
      };
      return admit ? admit(call) : call();
    },
    state(platformId: string): BreakerState | undefined {
      const breaker = entries.get(platformId)?.breaker;
      if (!breaker) return undefined;
      return breaker.opened ? 'open' : breaker.halfOpen ? 'half-open' : 'closed';
    },
    /** Ids of the platforms whose breaker is open in this process (for heartbeats). */
    openBreakers(): string[] {
      return [...entries.entries()].filter(([, e]) => e.breaker.opened).map(([id]) => id);
    },
    /** Drops the platform's breaker (the platform was deleted). */
    forget(platformId: string): void {
      entries.get(platformId)?.breaker.shutdown();
      entries.delete(platformId);
    },
    /** Closes the platform's breaker in this process, if it is not closed already. */
    reset(platformId: string): void {
      const breaker = entries.get(platformId)?.breaker;
      if (breaker?.opened || breaker?.halfOpen) breaker.close();
    },
    close(): void {
      for (const { breaker } of entries.values()) breaker.shutdown();
      entries.clear();
    },
  };
}

export type PlatformBreakers = ReturnType<typeof createPlatformBreakers>;
