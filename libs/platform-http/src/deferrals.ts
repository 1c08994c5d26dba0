import { DeferError } from '@psc/messaging';

/**
 * Why a job was deferred before it called its platform: the platform's breaker is open, its
 * rate-limit turn is too far off (the turn is booked), or all its request slots stayed taken.
 */
export type DeferReason = 'breaker' | 'rate' | 'slots';

/** A deferral by the platform fetcher, with its reason (`psc_platform_deferrals_total`). */
export class PlatformDeferral extends DeferError {
  readonly reason: DeferReason;
  constructor(
    reason: DeferReason,
    message: string,
    delayMs: number,
    options?: { by?: boolean; backoff?: boolean },
  ) {
    super(message, delayMs, options);
    this.reason = reason;
  }
}
