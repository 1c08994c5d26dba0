import type { Knex } from 'knex';

/** A collector whose schedule is stopped. */
export interface CollectStop {
  platformId: string;
  resource: string;
  reason: string | null;
  stoppedAt: Date;
}

interface CollectStopRow {
  platform_id: string;
  resource: string;
  reason: string | null;
  stopped_at: Date;
}

const toStop = (r: CollectStopRow): CollectStop => ({
  platformId: r.platform_id,
  resource: r.resource,
  reason: r.reason,
  stoppedAt: r.stopped_at,
});

/** The collectors (platform × collect resource) whose schedule an operator stopped. */
export function createCollectStopRepository(knex: Knex, schema: string) {
  const stops = (q: Knex | Knex.Transaction = knex) => q.withSchema(schema).table('collect_stops');
  return {
    async list(q: Knex | Knex.Transaction = knex): Promise<CollectStop[]> {
      const rows = (await stops(q).orderBy(['platform_id', 'resource'])) as CollectStopRow[];
      return rows.map(toStop);
    },

    async get(platformId: string, resource: string): Promise<CollectStop | undefined> {
      const row = (await stops().where({ platform_id: platformId, resource }).first()) as
        CollectStopRow | undefined;
      return row ? toStop(row) : undefined;
    },

    /** Stops it, or gives a stopped one the new reason and time. */
    async stop(trx: Knex.Transaction, stop: CollectStop): Promise<void> {
      await stops(trx)
        .insert({
          platform_id: stop.platformId,
          resource: stop.resource,
          reason: stop.reason,
          stopped_at: stop.stoppedAt,
        })
        .onConflict(['platform_id', 'resource'])
        .merge(['reason', 'stopped_at']);
    },

    async start(trx: Knex.Transaction, platformId: string, resource: string): Promise<void> {
      await stops(trx).where({ platform_id: platformId, resource }).delete();
    },
  };
}

export type CollectStopRepository = ReturnType<typeof createCollectStopRepository>;
