import { randomUUID } from 'node:crypto';
import type { BenchContext } from '../lib/context.ts';
import { waitForJob } from '../lib/ledger.ts';
import { expectStatus } from '../lib/psc.ts';
import { compare } from '../lib/report.ts';

const SCENARIO = 'bulk sync';
const PATH = '/bulk';

interface Counts {
  inserted: number;
  updated: number;
  unchanged: number;
}

/**
 * Scenario 2. One resource of S records in pages of P. First load into an empty table, then a
 * re-sync after 10% of the records changed. psc: a run-now sync job, timed from the ledger
 * (created_at → finished_at). Baseline: fetch each page, upsert it with one unnest statement
 * that writes only rows whose hash differs, one transaction, timed inside the process.
 */
export async function bulkSync(ctx: BenchContext): Promise<void> {
  const { args, psc, fake, db } = ctx;
  const size = args.bulk;
  const page = args.bulkPage;
  const timeoutMs = 120_000 + size * 2;
  const items = (generation: number) =>
    Array.from({ length: size }, (_, i) => ({
      id: `k${String(i).padStart(7, '0')}`,
      name: `record ${i}`,
      value: generation,
      group: `g${i % 17}`,
    }));

  const pscSync = async (platformId: string, expected: Counts): Promise<number> => {
    const body = expectStatus(
      'run bulk sync',
      await psc.api<{ jobs: { id: string }[] }>('/api/v1/run/sync', {
        body: { platformId, resource: 'records' },
      }),
      202,
    );
    const job = await waitForJob(db, body.jobs[0]!.id, timeoutMs);
    checkCounts('psc', job.stats ?? { inserted: -1, updated: -1, unchanged: -1 }, expected);
    return (size * 1000) / (job.finished_at!.getTime() - job.created_at.getTime());
  };
  const baselineSync = async (platformId: string, expected: Counts): Promise<number> => {
    const child = await ctx.spawnBaseline('bulk-sync', {
      PLATFORM_URL: fake.url,
      PAGE_SIZE: String(page),
      PLATFORM_ID: platformId,
      RESOURCE: 'records',
    });
    const line = await child.waitForLine(/^RESULT /, timeoutMs);
    await child.stop();
    const result = JSON.parse(line.slice('RESULT '.length)) as Counts & { ms: number };
    checkCounts('baseline', result, expected);
    return (size * 1000) / result.ms;
  };

  const first = { psc: [] as number[], base: [] as number[] };
  const resync = { psc: [] as number[], base: [] as number[] };
  const changed = Math.ceil(size / 10);
  for (let rep = 0; rep < args.reps; rep++) {
    fake.setCollection(PATH, items(rep), { paging: 'page', maxSize: page });
    const platform = expectStatus(
      'register bulk platform',
      await psc.api<{ id: string }>('/api/v1/platforms', {
        body: {
          name: `bench-bulk-${rep}`,
          baseUrl: fake.url,
          resources: [
            {
              name: 'records',
              request: { path: PATH },
              pagination: { type: 'page', pageSize: page, maxPages: Math.ceil(size / page) + 2 },
              itemsPath: 'data',
              key: 'id',
              mapping: { name: 'name', value: 'value', group: 'group' },
            },
          ],
        },
      }),
      201,
    );
    const baselineId = randomUUID();
    const pscFirst = () => pscSync(platform.id, { inserted: size, updated: 0, unchanged: 0 });
    const baseFirst = () => baselineSync(baselineId, { inserted: size, updated: 0, unchanged: 0 });
    // Alternate who goes first, so drift in the machine hits both sides.
    if (rep % 2 === 0) {
      first.psc.push(await pscFirst());
      first.base.push(await baseFirst());
    } else {
      first.base.push(await baseFirst());
      first.psc.push(await pscFirst());
    }

    fake.updateItem(
      PATH,
      (item) => Number(String(item.id).slice(1)) % 10 === 0,
      (item) => ({ value: Number(item.value) + 1_000 }),
    );
    const again = { inserted: 0, updated: changed, unchanged: size - changed };
    if (rep % 2 === 0) {
      resync.psc.push(await pscSync(platform.id, again));
      resync.base.push(await baselineSync(baselineId, again));
    } else {
      resync.base.push(await baselineSync(baselineId, again));
      resync.psc.push(await pscSync(platform.id, again));
    }
  }
  compare(
    ctx.report,
    SCENARIO,
    `first load (${size} records)`,
    'records/s',
    first.psc,
    first.base,
    {
      text: '≥ 0.8 × baseline',
      minRatio: 0.8,
    },
  );
  compare(ctx.report, SCENARIO, 're-sync 90% unchanged', 'records/s', resync.psc, resync.base, {
    text: '≥ 1.0 × baseline',
    minRatio: 1.0,
  });
}

/** Both sides must have done the same work, or the comparison means nothing. */
function checkCounts(side: string, actual: Counts, expected: Counts): void {
  for (const key of ['inserted', 'updated', 'unchanged'] as const) {
    if (actual[key] !== expected[key]) {
      throw new Error(
        `${side} did different work than expected: ${JSON.stringify(actual)} vs ${JSON.stringify(expected)}`,
      );
    }
  }
}
