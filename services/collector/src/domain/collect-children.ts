import type { CollectChild } from '@psc/contracts';
import { AppError, NonRetryableError } from '@psc/core';
import { runKey } from '@psc/job-runner';
import type { CollectionStore } from '../data-access/collection.store.ts';
import { collectResource, documentsOf, type CollectDeps } from './collect-task.ts';
import { renderRequest } from './request-template.ts';

/**
 * Stage 2 of a fan-out collection: one child fetches its request and stores its documents; a
 * child whose retries are exhausted counts as failed. The last child to end finishes the parent
 * job — failed if any child failed (it can then be replayed whole).
 */
export function createCollectChildren(deps: CollectDeps & { store: CollectionStore }) {
  return {
    async run(child: CollectChild, correlationId: string, signal?: AbortSignal): Promise<void> {
      if (!(await deps.collections.childPending(child.parentJobId, child.parentRun, child.index))) {
        // Ended already: if this delivery's worker died after the child's last count and before
        // finishing its collection, the collection is finished now.
        await deps.store.finishIfDone(child, correlationId);
        return;
      }
      const platform = await deps.platforms.get(child.platformId);
      const resource = collectResource(platform, child.resource);
      if (!resource.fanOut) throw new NonRetryableError('no_fan_out', 'resource has no fanOut');
      // A child is one request: it may be deferred rather than wait long for its turn.
      const { body, url } = await deps.fetch(
        platform,
        renderRequest(resource.fanOut.request, child.params),
        { signal, deferAs: `${runKey(child.parentJobId, child.parentRun)}/${child.index}` },
      );
      const docs = await documentsOf(body, resource.fanOut.itemsPath, {
        jobId: child.parentJobId,
        childIndex: child.index,
        platformId: platform.id,
        resource: resource.name,
        params: child.params,
        url,
        fetchedAt: deps.clock.now(),
        workerId: deps.workerId,
      });
      await deps.store.endChild(child, { kind: 'succeeded', docs }, correlationId);
    },

    /** A child whose retries are exhausted (or that can never succeed) counts as failed. */
    async givenUp(child: CollectChild, err: unknown, correlationId: string): Promise<void> {
      const error = err instanceof AppError ? `${err.code}: ${err.message}` : 'internal error';
      await deps.store.endChild(child, { kind: 'failed', error }, correlationId);
    },
  };
}

export type CollectChildren = ReturnType<typeof createCollectChildren>;
