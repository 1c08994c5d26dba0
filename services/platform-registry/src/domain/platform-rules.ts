import jsonata from 'jsonata';
import { ValidationError } from '@psc/core';
import type { PlatformInput } from '@psc/contracts';

interface Expression {
  path: string;
  source: string;
}

const mappingOf = (at: string, mapping: Record<string, string>): Expression[] =>
  Object.entries(mapping).map(([field, source]) => ({ path: `${at}.mapping.${field}`, source }));

function expressionsOf(platform: PlatformInput): Expression[] {
  return platform.resources.flatMap((resource, i) => {
    const at = `resources[${i}]`;
    const optional = (path: string, source: string | undefined): Expression[] =>
      source === undefined ? [] : [{ path, source }];
    const pagination = resource.pagination;
    return [
      { path: `${at}.itemsPath`, source: resource.itemsPath },
      { path: `${at}.key`, source: resource.key },
      ...optional(`${at}.successWhen`, resource.successWhen),
      ...optional(`${at}.errorMessagePath`, resource.errorMessagePath),
      ...mappingOf(at, resource.mapping),
      ...optional(
        `${at}.pagination.totalPath`,
        pagination && 'totalPath' in pagination ? pagination.totalPath : undefined,
      ),
      ...optional(
        `${at}.pagination.nextPath`,
        pagination && 'nextPath' in pagination ? pagination.nextPath : undefined,
      ),
      ...optional(`${at}.fanOut.entriesPath`, resource.fanOut?.entriesPath),
      ...optional(`${at}.fanOut.itemsPath`, resource.fanOut?.itemsPath),
      ...(resource.children ?? []).flatMap((child, j) => {
        const c = `${at}.children[${j}]`;
        return [
          { path: `${c}.itemsPath`, source: child.itemsPath },
          { path: `${c}.key`, source: child.key },
          ...mappingOf(c, child.mapping),
        ];
      }),
    ];
  });
}

/**
 * Every JSONata expression compiles, so a broken mapping is refused when it is saved rather
 * than when a job runs. The error names the JSON path of each bad expression.
 */
export function assertExpressionsCompile(platform: PlatformInput): void {
  const problems: { path: string; message: string }[] = [];
  for (const { path, source } of expressionsOf(platform)) {
    try {
      jsonata(source);
    } catch (err) {
      const message = (err as { message?: string }).message ?? 'invalid expression';
      problems.push({ path, message: `invalid JSONata: ${message}` });
    }
  }
  const first = problems[0];
  if (first) throw new ValidationError(`${first.path}: ${first.message}`, problems);
}

export function assertUniqueResourceNames(platform: PlatformInput): void {
  const seen = new Set<string>();
  platform.resources.forEach((r, i) => {
    if (seen.has(r.name)) {
      throw new ValidationError(`resources[${i}].name: duplicate resource name ${r.name}`, [
        { path: `resources[${i}].name`, message: 'duplicate resource name' },
      ]);
    }
    seen.add(r.name);
  });
}

/** An incremental sync's high-water field must be one the mapping produces. */
export function assertCursorFieldsMapped(platform: PlatformInput): void {
  platform.resources.forEach((r, i) => {
    if (r.cursor && !(r.cursor.field in r.mapping)) {
      const path = `resources[${i}].cursor.field`;
      throw new ValidationError(`${path}: ${r.cursor.field} is not a mapped field`, [
        { path, message: 'not a mapped field' },
      ]);
    }
  });
}

/** Child names are unique within their resource: they name the stored collections. */
export function assertUniqueChildNames(platform: PlatformInput): void {
  platform.resources.forEach((r, i) => {
    const seen = new Set<string>();
    (r.children ?? []).forEach((c, j) => {
      const path = `resources[${i}].children[${j}].name`;
      if (seen.has(c.name)) {
        throw new ValidationError(`${path}: duplicate child name ${c.name}`, [
          { path, message: 'duplicate child name' },
        ]);
      }
      seen.add(c.name);
    });
  });
}

/** Every rule a platform must pass before it is stored. */
export function assertPlatformRules(platform: PlatformInput): void {
  assertUniqueResourceNames(platform);
  assertUniqueChildNames(platform);
  assertCursorFieldsMapped(platform);
  assertExpressionsCompile(platform);
}
