import type { Job, TaskType } from '@psc/contracts';
import { NotFoundError, ValidationError } from '@psc/core';
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

/**
 * Checks the params an operator replays a dead job with, as run-now checks its own: a collect
 * job's resource must find each param it declares (422 naming each). A job or platform gone
 * meanwhile is left to the replay itself, which answers for it.
 */
export function createReplayParamsCheck(deps: {
  findJob: (id: string) => Promise<Pick<Job, 'platformId' | 'resource' | 'taskType'> | undefined>;
  platformById: (id: string) => Promise<PlatformView>;
}) {
  return async (jobId: string, params: Record<string, unknown>): Promise<void> => {
    const job = await deps.findJob(jobId);
    if (!job || job.taskType !== 'collect') return;
    const platform = await deps.platformById(job.platformId).catch((err: unknown) => {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    });
    const resource = platform?.resources.find((r) => r.name === job.resource);
    if (resource) refuseMissingParams(missingParamDetails(job.taskType, resource, params));
  };
}
