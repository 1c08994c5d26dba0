import { NonRetryableError } from '@psc/core';

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;

/** What WHATWG URL parsing treats as `.` or `..` and removes with the segment before it. */
const DOT_SEGMENTS = new Set(['.', '..', '%2e', '.%2e', '%2e.', '%2e%2e']);

/** A placeholder's value as text, or undefined when the run did not provide a usable one. */
export type ParamLookup = (name: string) => string | undefined;

const missing = (name: string) =>
  new NonRetryableError('missing_param', `request needs parameter "${name}"`);

/**
 * Fills `{{param}}` placeholders in a query value or other text, as is. A missing parameter
 * fails with `missing_param`.
 */
export function fillText(template: string, lookup: ParamLookup): string {
  return template.replace(PLACEHOLDER, (_match, name: string) => {
    const value = lookup(name);
    if (value === undefined) throw missing(name);
    return value;
  });
}

/**
 * Fills `{{param}}` placeholders in a request path so that each value stays inside the path
 * segment it was written in: values are percent-encoded (`/`, `\`, `?`, `#` and `%` included),
 * and a segment that would come out as `.` or `..` (whose URL parsing would climb to another
 * path on the platform's host) fails with `bad_param`, as does a missing parameter with
 * `missing_param`. Platform data (fan-out entries) and callers' params both reach here.
 */
export function fillPath(template: string, lookup: ParamLookup): string {
  return template
    .split('/')
    .map((segment) => {
      const names: string[] = [];
      const filled = segment.replace(PLACEHOLDER, (_match, name: string) => {
        const value = lookup(name);
        if (value === undefined) throw missing(name);
        names.push(name);
        return encodeURIComponent(value);
      });
      if (names.length > 0 && DOT_SEGMENTS.has(filled.toLowerCase())) {
        throw new NonRetryableError(
          'bad_param',
          `parameter ${names.map((n) => `"${n}"`).join(', ')} would make the path segment "${filled}", which leaves the resource's path`,
        );
      }
      return filled;
    })
    .join('/');
}
