import type { Knex } from 'knex';

/** At most this many changes are taken per plan; any others make the next tick plan again. */
const PENDING_LIMIT = 1_000;

/**
 * Changes to what the leader's plan is made from, noted by the triggers of migration
 * `20261207000000_plan_changes` (see there for which changes count).
 */
export function createPlanChangeRepository(knex: Knex, schema: string) {
  const changes = (q: Knex | Knex.Transaction = knex) => q.withSchema(schema).table('plan_changes');
  return {
    /** Ids of changes no plan has seen yet. */
    async pending(): Promise<string[]> {
      const rows = (await changes().select('id').orderBy('id').limit(PENDING_LIMIT)) as {
        id: string;
      }[];
      return rows.map((r) => String(r.id));
    },

    /**
     * Deletes the changes a plan saw, by id: one that committed after they were read (even
     * with a lower id, as ids are taken before commit) stays for the next tick.
     */
    async consume(trx: Knex.Transaction, ids: readonly string[]): Promise<void> {
      if (ids.length === 0) return;
      await changes(trx)
        .whereIn('id', [...ids])
        .delete();
    },
  };
}

export type PlanChangeRepository = ReturnType<typeof createPlanChangeRepository>;
