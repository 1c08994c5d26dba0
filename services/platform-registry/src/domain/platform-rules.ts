import jsonata from 'jsonata';
import { ValidationError } from '@psc/core';
import type { PlatformInput } from '@psc/contracts';

interface Expression {
  path: string;
  source: string;
}

function expressionsOf(platform: PlatformInput): Expression[] {
  return platform.resources.flatMap((resource, i) => {
    const at = `resources[${i}]`;
    return [
      { path: `${at}.itemsPath`, source: resource.itemsPath },
      { path: `${at}.key`, source: resource.key },
      ...Object.entries(resource.mapping).map(([field, source]) => ({
        path: `${at}.mapping.${field}`,
        source,
      })),
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
