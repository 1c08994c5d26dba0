import { waitFor } from '@psc/testing';
import type { System } from './system.ts';

/** A seed-004 booth platform definition pointing at `baseUrl`, with overrides. */
export function boothPlatform(baseUrl: string, overrides: Record<string, unknown> = {}) {
  return {
    name: `booths-${Math.random().toString(36).slice(2, 8)}`,
    baseUrl,
    resources: [
      {
        name: 'booths',
        request: { path: '/booth/all' },
        pagination: { type: 'page', pageParam: 'page', sizeParam: 'size', pageSize: 10 },
        itemsPath: 'data',
        key: 'boothName',
        mapping: {
          name: 'boothName',
          allTable: 'boothAllTable',
          usageTable: 'boothUsageTable',
          canUsage: 'boothUsageTable < boothAllTable',
          category: "'BOOTH'",
        },
      },
    ],
    ...overrides,
  };
}

/** A sync resource `orders` of booths at `path` (the fake platform's `setCollection(path, …)`). */
export function ordersResource(path: string) {
  return {
    name: 'orders',
    request: { path },
    itemsPath: 'data',
    key: 'boothName',
    mapping: { name: 'boothName' },
  };
}

/** A collect resource over the booths whose request needs a `day` param (`?day={{day}}`). */
export function boothPagesResource() {
  return {
    name: 'booth-pages',
    tasks: ['collect'],
    params: ['day'],
    request: { path: '/booth/all', query: { day: '{{day}}' } },
    itemsPath: 'data',
    key: 'boothName',
    mapping: { name: 'boothName' },
  };
}

/**
 * A seed-001 collect resource with a fan-out: the meetings of a `date` list their races, and
 * each race's card (`/card/{date}/{race}`) is a child whose `runners` are stored.
 */
export function raceCardsResource() {
  return {
    name: 'cards',
    tasks: ['collect'],
    params: ['date'],
    request: { path: '/meetings/{{date}}' },
    itemsPath: 'entries',
    key: 'race',
    mapping: { race: 'race' },
    fanOut: {
      entriesPath: 'entries',
      request: { path: '/card/{{date}}/{{race}}' },
      itemsPath: 'runners',
    },
  };
}

export interface JobView {
  id: string;
  status: string;
  attempts: number;
  traceId: string | null;
  stats: { fetched: number; inserted: number; updated: number; unchanged: number } | null;
  error: { message: string; class: string } | null;
  startedAt: string | null;
  finishedAt: string | null;
}

/** Waits (up to 60 s) until the job has ended, and returns it as `GET /api/v1/jobs/{id}` shows it. */
export function jobFinished(system: System, id: string): Promise<JobView> {
  return waitFor(
    async () => {
      const { body } = await system.api<JobView>(`/api/v1/jobs/${id}`);
      return ['succeeded', 'failed', 'dead', 'cancelled'].includes(body.status) ? body : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 100, message: `job ${id} finished` },
  );
}
