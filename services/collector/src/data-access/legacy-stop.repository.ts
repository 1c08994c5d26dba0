import type { Knex } from 'knex';
import type { LegacyStop } from '../domain/stop-handoff.ts';

interface SettingRow {
  platform_id: string;
  resource: string;
  updated_at: Date;
}

/**
 * The collector stops this service kept itself (`collector_settings`) before the scheduler owned
 * them: read only to hand them over, row by row. Nothing writes the table any more; a later
 * release drops it.
 */
export function createLegacyStopRepository(knex: Knex) {
  const settings = () => knex.withSchema('collector').table('collector_settings');
  return {
    async pending(): Promise<LegacyStop[]> {
      // A started collector's row says what no row says: nothing to hand over.
      await settings().where({ enabled: true }).delete();
      const rows = (await settings()
        .where({ enabled: false })
        .orderBy(['platform_id', 'resource'])) as SettingRow[];
      return rows.map((r) => ({
        platformId: r.platform_id,
        resource: r.resource,
        stoppedAt: r.updated_at,
      }));
    },

    async forget(stop: LegacyStop): Promise<void> {
      await settings().where({ platform_id: stop.platformId, resource: stop.resource }).delete();
    },
  };
}
