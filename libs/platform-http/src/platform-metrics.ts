import { AppError } from '@psc/core';
import { PSC_METRICS, registerCatalogMetric, type Metrics } from '@psc/telemetry';
import type { BreakerChange } from './breakers.ts';
import type { DeferReason } from './deferrals.ts';

const BREAKER_VALUE = { closed: 0, 'half-open': 1, open: 2 } as const;

/**
 * The outcome label of a platform request: its HTTP status, or what kept it from having one.
 * Bounded: status codes plus three words.
 */
export function requestOutcome(status: number | undefined, err: unknown): string {
  if (status !== undefined) return String(status);
  if (err instanceof AppError) {
    if (err.code === 'egress_denied') return 'egress_denied';
    if (err.code === 'timeout') return 'timeout';
  }
  return 'connection_error';
}

/**
 * The platform request, deferral and breaker metrics of a worker (`psc_platform_*`,
 * `psc_breaker_state`).
 */
export function createPlatformMetrics(registry: Metrics['registry']) {
  const requests = registerCatalogMetric(registry, PSC_METRICS.platformRequests);
  const duration = registerCatalogMetric(registry, PSC_METRICS.platformRequestDuration);
  const breaker = registerCatalogMetric(registry, PSC_METRICS.breakerState);
  const deferrals = registerCatalogMetric(registry, PSC_METRICS.platformDeferrals);
  return {
    request(platformId: string, outcome: string, seconds: number): void {
      requests.inc({ platform: platformId, status: outcome });
      duration.observe({ platform: platformId }, seconds);
    },
    deferred(platformId: string, reason: DeferReason): void {
      deferrals.inc({ platform: platformId, reason });
    },
    breaker(change: BreakerChange): void {
      breaker.set({ platform: change.platformId }, BREAKER_VALUE[change.state]);
    },
    /** A deleted platform has no breaker state any more (its counters stay: they are history). */
    forget(platformId: string): void {
      breaker.remove({ platform: platformId });
    },
  };
}

export type PlatformMetrics = ReturnType<typeof createPlatformMetrics>;
