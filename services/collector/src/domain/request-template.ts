import { NonRetryableError } from '@psc/core';
import type { ResourceRequest } from '@psc/contracts';

export interface RenderedRequest {
  method: 'GET' | 'POST';
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body?: unknown;
}

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;

function fill(template: string, params: Record<string, unknown>, encode: boolean): string {
  return template.replace(PLACEHOLDER, (_match, name: string) => {
    const value = params[name];
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new NonRetryableError('missing_param', `request needs parameter "${name}"`);
    }
    const text = String(value);
    // Path values are encoded so a parameter cannot add segments or a query of its own.
    return encode ? encodeURIComponent(text) : text;
  });
}

/** Fills `{{param}}` placeholders of a resource's request from a run's params. */
export function renderRequest(
  request: ResourceRequest,
  params: Record<string, unknown>,
): RenderedRequest {
  const query: Record<string, string> = {};
  for (const [k, v] of Object.entries(request.query)) query[k] = fill(v, params, false);
  return {
    method: request.method,
    path: fill(request.path, params, true),
    query,
    headers: { ...request.headers },
    ...(request.body === undefined ? {} : { body: request.body }),
  };
}

/** The params a collect resource declares that the run did not provide. */
export function missingParams(declared: readonly string[], params: Record<string, unknown>) {
  return declared.filter((name) => params[name] === undefined || params[name] === null);
}
