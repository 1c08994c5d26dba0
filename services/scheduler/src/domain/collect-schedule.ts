import type { CollectScheduleState } from '@psc/contracts';
import { NotFoundError } from '@psc/core';
import type { CollectStop, CollectStopRepository } from '../data-access/collect-stop.repository.ts';
import type { ControlStore } from '../data-access/control.store.ts';
import type { PlatformView } from '../data-access/platform.repository.ts';
import { collectStopCancelReason } from './cancellation.ts';

const stateOf = (
  key: { platformId: string; resource: string },
  stop: CollectStop | undefined,
): CollectScheduleState => ({
  platformId: key.platformId,
  resource: key.resource,
  enabled: !stop,
  reason: stop?.reason ?? null,
  stoppedAt: stop?.stoppedAt.toISOString() ?? null,
});

/**
 * One collector's schedule switch, the per-resource twin of a platform's sync stop: stop makes
 * the tick skip its scheduled runs and cancels those still queued; start resumes it from its
 * next fire time. Run-now runs it either way.
 */
export function createCollectSchedule(deps: {
  store: ControlStore;
  stops: CollectStopRepository;
  /** The scheduler's projection of a platform, asked of the registry if not projected yet. */
  platformById: (id: string) => Promise<PlatformView>;
}) {
  async function control(
    platformId: string,
    resource: string,
    action: 'start' | 'stop',
    reason?: string,
  ): Promise<CollectScheduleState> {
    const platform = await deps.platformById(platformId);
    if (!platform.resources.some((r) => r.name === resource && r.tasks.includes('collect'))) {
      throw new NotFoundError(`platform ${platform.name} has no collector ${resource}`);
    }
    const key = { platformId, resource };
    await deps.store.setCollectSchedule(
      key,
      action === 'stop'
        ? { reason: reason ?? null, cancelWhy: collectStopCancelReason(reason ?? null) }
        : null,
      { action: `collect.${action}`, reason },
    );
    return stateOf(key, await deps.stops.get(platformId, resource));
  }

  async function stopped(): Promise<CollectScheduleState[]> {
    return (await deps.stops.list()).map((stop) => stateOf(stop, stop));
  }

  return { control, stopped };
}

export type CollectSchedule = ReturnType<typeof createCollectSchedule>;
