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
