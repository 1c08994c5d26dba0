import type { Knex } from 'knex';

export interface LeaseView {
  holder: string;
  token: number;
  expiresAt: Date;
}

/**
 * A lease row per name. Taking it over bumps the fencing token; renewing keeps it. Times come
 * from the injected clock so tests can drive expiry; replicas' clocks must agree within a tick.
 */
export function createLeaseRepository(knex: Knex, schema: string) {
  const leases = (q: Knex | Knex.Transaction = knex) => q.withSchema(schema).table('leases');

  return {
    /** Takes or renews the lease; returns the token held, or null when another holds it. */
    async acquire(name: string, holder: string, now: Date, ttlMs: number): Promise<number | null> {
      const expires = new Date(now.getTime() + ttlMs);
      await leases()
        .insert({ name, holder, token: 1, expires_at: expires })
        .onConflict('name')
        .ignore();
      const rows = await knex.raw<{ rows: { token: string }[] }>(
        `UPDATE ??.leases SET
           token = CASE WHEN holder = ? THEN token ELSE token + 1 END,
           holder = ?, expires_at = ?
         WHERE name = ? AND (holder = ? OR expires_at < ?)
         RETURNING token`,
        [schema, holder, holder, expires, name, holder, now],
      );
      const row = rows.rows[0];
      return row ? Number(row.token) : null;
    },

    /**
     * Inside the caller's transaction, last before its commit: true only if `holder` still holds
     * the lease under `token` and it has not expired. The share lock keeps a takeover from
     * interleaving with the commit, and is held for that one round trip only.
     */
    async holds(
      trx: Knex.Transaction,
      name: string,
      holder: string,
      token: number,
      now: Date,
    ): Promise<boolean> {
      const row: unknown = await leases(trx)
        .where({ name, holder, token })
        .andWhere('expires_at', '>', now)
        .forShare()
        .first('name');
      return row !== undefined;
    },

    async release(name: string, holder: string): Promise<void> {
      await leases()
        .where({ name, holder })
        .update({ expires_at: new Date(0) });
    },

    async current(name: string): Promise<LeaseView | undefined> {
      const row = (await leases().where({ name }).first()) as
        { holder: string; token: string; expires_at: Date } | undefined;
      return row
        ? { holder: row.holder, token: Number(row.token), expiresAt: row.expires_at }
        : undefined;
    },
  };
}

export type LeaseRepository = ReturnType<typeof createLeaseRepository>;
