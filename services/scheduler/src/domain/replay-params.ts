import { MAX_PARAMS_BYTES, REDACTED, type Job } from '@psc/contracts';
import { AppError, ValidationError, mergePatch } from '@psc/core';
import type { PlatformView } from '../data-access/platform.repository.ts';
import { missingParamDetails, refuseMissingParams } from './collect-params.ts';

type Params = Job['params'];

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The params a replayed run takes: the job's own with `patch` merged in as a JSON merge patch
 * (RFC 7396): a key given replaces the job's, an object merges into the job's object, null
 * removes the key. So an operator mending one wrong param gives only that one, and the params
 * psc never shows back (a token under a secret name) stay as the job had them.
 */
export const mergeParams = (current: Params, patch: Params): Params =>
  mergePatch(current, patch) as Params;

/** Where `value` holds psc's `[redacted]` placeholder, as `body.params.…` paths. */
function redactedPaths(value: unknown, path: string): string[] {
  if (value === REDACTED) return [path];
  if (Array.isArray(value)) return value.flatMap((v, i) => redactedPaths(v, `${path}.${i}`));
  if (isObject(value))
    return Object.entries(value).flatMap(([k, v]) => redactedPaths(v, `${path}.${k}`));
  return [];
}

/**
 * Checks the params an operator replays a dead job with, before the replay takes it out of the
 * dead-letter queue (422, and the job stays dead):
 * - `[redacted]` is what psc shows in place of a secret, not its value; sent back, the run
 *   would call the platform with it. Leaving the key out keeps the job's own value.
 * - The merged params keep the size every job's params are held to.
 * - A collect job's resource must find each param it declares, as run-now checks its own.
 * A job or platform gone meanwhile is left to the replay itself, which answers for it.
 */
export function createReplayParamsCheck(deps: {
  findJob: (
    id: string,
  ) => Promise<Pick<Job, 'platformId' | 'resource' | 'taskType' | 'params'> | undefined>;
  platformById: (id: string) => Promise<PlatformView>;
}) {
  return async (jobId: string, patch: Params): Promise<void> => {
    const redacted = redactedPaths(patch, 'body.params');
    if (redacted.length > 0) {
      throw new ValidationError(
        `params hold ${REDACTED}, which stands for a secret psc does not show: give its value, or leave the key out to keep the job's own`,
        redacted.map((path) => ({ path, message: `${REDACTED} is not a value` })),
      );
    }
    const job = await deps.findJob(jobId);
    if (!job) return;
    const params = mergeParams(job.params, patch);
    if (Buffer.byteLength(JSON.stringify(params)) > MAX_PARAMS_BYTES) {
      throw new ValidationError(
        `the job's params with these merged in take more than ${MAX_PARAMS_BYTES} bytes as JSON`,
        [{ path: 'body.params', message: `more than ${MAX_PARAMS_BYTES} bytes once merged` }],
      );
    }
    if (job.taskType !== 'collect') return;
    const platform = await deps.platformById(job.platformId).catch((err: unknown) => {
      // A 404, the projection's or the registry's (an AppError through the RPC client).
      if (err instanceof AppError && err.status === 404) return undefined;
      throw err;
    });
    const resource = platform?.resources.find((r) => r.name === job.resource);
    if (resource) refuseMissingParams(missingParamDetails(job.taskType, resource, params));
  };
}
