import { fillPath, fillText } from '@psc/platform-http';
import type { ResourceRequest } from '@psc/contracts';

export interface RenderedRequest {
  method: 'GET' | 'POST';
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body?: unknown;
}

/** A run's param as placeholder text: scalars only, anything else counts as missing. */
const lookupIn =
  (params: Record<string, unknown>) =>
  (name: string): string | undefined => {
    const value = params[name];
    return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
      ? String(value)
      : undefined;
  };

/**
 * Fills `{{param}}` placeholders of a resource's request from a run's params (or a fan-out
 * entry's fields, which come from the platform). Path values stay inside their own path segment
 * (`fillPath`): `..`, `%2e%2e` or `a/b` cannot reach another path on the host.
 */
export function renderRequest(
  request: ResourceRequest,
  params: Record<string, unknown>,
): RenderedRequest {
  const lookup = lookupIn(params);
  const query: Record<string, string> = {};
  for (const [k, v] of Object.entries(request.query)) query[k] = fillText(v, lookup);
  return {
    method: request.method,
    path: fillPath(request.path, lookup),
    query,
    headers: { ...request.headers },
    ...(request.body === undefined ? {} : { body: request.body }),
  };
}

/** The params a collect resource declares that the run did not provide. */
export function missingParams(declared: readonly string[], params: Record<string, unknown>) {
  return declared.filter((name) => params[name] === undefined || params[name] === null);
}
