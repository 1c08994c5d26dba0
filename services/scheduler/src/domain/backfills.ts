import type { Backfill, BackfillRequest } from '@psc/contracts';
import { ConflictError, NotFoundError, ValidationError, type Clock } from '@psc/core';
import type { BackfillStore } from '../data-access/backfill.store.ts';
import type { PlatformView } from '../data-access/platform.repository.ts';
import { backfillSteps } from './backfill-plan.ts';
import { missingCollectParams } from './collect-params.ts';

/** Backfills as operators ask for them: checked against the platform, then stored. */
export function createBackfills(deps: {
  store: BackfillStore;
  platformById: (id: string) => Promise<PlatformView>;
  clock: Clock;
}) {
  async function get(id: string): Promise<Backfill> {
    const found = await deps.store.get(id);
    if (!found) throw new NotFoundError(`backfill ${id} not found`);
    return found;
  }

  return {
    get,
    list: (request: Parameters<BackfillStore['list']>[0]) => deps.store.list(request),

    async create(request: BackfillRequest): Promise<Backfill> {
      const now = deps.clock.now();
      const platform = await deps.platformById(request.platformId);
      if (!platform.active) throw new ConflictError(`platform ${platform.name} is not active`);
      const resource = platform.resources.find((r) => r.name === request.resource);
      if (!resource)
        throw new NotFoundError(`platform ${platform.name} has no resource ${request.resource}`);
      if (!resource.tasks.includes(request.taskType))
        throw new ConflictError(
          `resource ${request.resource} does not run ${request.taskType} tasks`,
        );
      const missing = missingCollectParams(request.taskType, resource, request.paramsTemplate);
      if (missing.length > 0)
        throw new ValidationError(
          `collect run needs params: ${missing.join(', ')}; give each step its value in ` +
            `paramsTemplate, e.g. {"${missing[0]}":"{{date}}"}`,
          { field: 'paramsTemplate', missing },
        );
      const steps = backfillSteps(request, now);
      const id = await deps.store.create(
        {
          platformId: platform.id,
          resource: resource.name,
          taskType: request.taskType,
          step: request.step,
          timezone: request.timezone,
          paramsTemplate: request.paramsTemplate,
          maxConcurrent: request.maxConcurrent,
          priority: request.priority ?? platform.priority,
          steps,
        },
        now,
      );
      return get(id);
    },

    async cancel(id: string, reason?: string): Promise<Backfill> {
      const current = await get(id);
      if (current.status === 'cancelled') return current;
      if (current.status !== 'running')
        throw new ConflictError(`backfill ${id} is already ${current.status}`, {
          status: current.status,
        });
      await deps.store.cancel(id, reason ?? 'cancelled by an operator', deps.clock.now());
      return get(id);
    },
  };
}

export type Backfills = ReturnType<typeof createBackfills>;
