import assert from 'node:assert/strict';
import type { ServiceName, System } from './system.ts';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A service's `GET /metrics` text (the gateway's wants a key like its API; the others' none). */
export async function scrapeService(
  system: Pick<System, 'services' | 'adminKey'>,
  service: ServiceName,
): Promise<string> {
  const res = await fetch(`${system.services.get(service)!.url}/metrics`, {
    headers: { authorization: `Bearer ${system.adminKey}` },
  });
  assert.equal(res.status, 200);
  return res.text();
}

/** The samples of a Prometheus text exposition (enough of the format for psc's own output). */
export function parseExposition(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      assert.ok(match, `exposition line: ${line}`);
      const labels = Object.fromEntries(
        [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]),
      );
      return { name: match[1]!, labels, value: Number(match[3]) };
    });
}

/** The sum of the samples named `name` whose labels include `labels`. */
export function total(
  samples: Sample[],
  name: string,
  labels: Record<string, string> = {},
): number {
  return samples
    .filter((s) => s.name === name)
    .filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

export const has = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.some(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
