import type { TaskType } from '@psc/contracts';
import { ValidationError } from '@psc/core';
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

/** Each param a collect run of `resource` lacks, as a 422's details (`body.params.<name>`). */
export function missingParamDetails(
  taskType: TaskType,
  resource: PlatformView['resources'][number],
  params: Record<string, unknown>,
): { path: string; message: string }[] {
  return missingCollectParams(taskType, resource, params).map((name) => ({
    path: `body.params.${name}`,
    message: `required by collect resource ${resource.name}`,
  }));
}

/** Refuses (422) a collect run whose params lack any, naming each once. */
export function refuseMissingParams(details: { path: string; message: string }[]): void {
  if (details.length === 0) return;
  const names = [...new Set(details.map((d) => d.path.slice('body.params.'.length)))];
  throw new ValidationError(`collect run needs params: ${names.join(', ')}`, details);
}
