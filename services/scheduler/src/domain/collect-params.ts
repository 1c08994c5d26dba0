import type { TaskType } from '@psc/contracts';
import type { PlatformView } from '../data-access/platform.repository.ts';

/**
 * The params a collect run of `resource` would lack in `params`: its job could only fail with
 * `missing_param` in the collector, so run-now and backfills refuse it at once (422) instead.
 * None for other tasks, or a resource whose declared params the projection has not heard of.
 */
export function missingCollectParams(
  taskType: TaskType,
  resource: PlatformView['resources'][number],
  params: Record<string, unknown>,
): string[] {
  if (taskType !== 'collect') return [];
  return (resource.params ?? []).filter(
    (name) => params[name] === undefined || params[name] === null,
  );
}
