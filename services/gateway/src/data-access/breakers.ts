import { PLATFORM_CALLERS, breakerList, breakerReset, type BreakerView } from '@psc/contracts';
import { UnavailableError } from '@psc/core';
import type { RpcClient } from '@psc/messaging';

/**
 * The platform breakers of both worker services (sync-worker and collector), each asked for its
 * own replicas'. A service that does not answer is named in `unavailable` rather than failing
 * the whole view.
 */
export function createBreakerDirectory(rpc: RpcClient<'gateway'>) {
  return {
    async list(
      platformId?: string,
      timeoutMs?: number,
    ): Promise<{ items: BreakerView[]; unavailable: string[] }> {
      const answers = await Promise.allSettled(
        PLATFORM_CALLERS.map((service) =>
          rpc.call(
            breakerList[service],
            platformId ? { platformId } : {},
            timeoutMs ? { timeoutMs } : {},
          ),
        ),
      );
      return {
        items: answers.flatMap((a) => (a.status === 'fulfilled' ? a.value.items : [])),
        unavailable: PLATFORM_CALLERS.filter((_, i) => answers[i]?.status === 'rejected'),
      };
    },
    /** Resets the platform's breakers in every service that answers; fails if none does. */
    async reset(platformId: string): Promise<{ platformId: string; resetAt: string }> {
      const answers = await Promise.allSettled(
        PLATFORM_CALLERS.map((service) => rpc.call(breakerReset[service], { platformId })),
      );
      const done = answers.find((a) => a.status === 'fulfilled');
      if (!done) throw new UnavailableError('no worker service answered the breaker reset');
      return done.value;
    },
  };
}
