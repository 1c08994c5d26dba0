import type { Knex } from 'knex';
import type { ApiKeyView, ApiRole } from '@psc/contracts';

interface ApiKeyRow {
  id: string;
  name: string;
  role: ApiRole;
  key_hash: string;
  prefix: string;
  bootstrap: boolean;
  created_by: string | null;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export interface NewApiKey {
  id: string;
  name: string;
  role: ApiRole;
  keyHash: string;
  prefix: string;
  createdBy: string | null;
  createdAt: Date;
  bootstrap?: boolean;
}

const toView = (row: ApiKeyRow): ApiKeyView => ({
  id: row.id,
  name: row.name,
  role: row.role,
  prefix: row.prefix,
  createdAt: row.created_at.toISOString(),
  createdBy: row.created_by,
  lastUsedAt: row.last_used_at?.toISOString() ?? null,
});

const toRow = (key: NewApiKey) => ({
  id: key.id,
  name: key.name,
  role: key.role,
  key_hash: key.keyHash,
  prefix: key.prefix,
  bootstrap: key.bootstrap ?? false,
  created_by: key.createdBy,
  created_at: key.createdAt,
});

/** A key that may be used: what a request check needs. */
export interface LiveApiKey {
  id: string;
  role: ApiRole;
  keyHash: string;
}

export function createApiKeyRepository(knex: Knex) {
  const keys = (q: Knex | Knex.Transaction = knex) => q.withSchema('gateway').table('api_keys');

  return {
    /** The live key with this hash, if any. */
    async findByHash(keyHash: string): Promise<LiveApiKey | undefined> {
      const found: unknown = await keys()
        .where({ key_hash: keyHash })
        .whereNull('revoked_at')
        .first('id', 'role');
      const row = found as { id: string; role: ApiRole } | undefined;
      return row ? { id: row.id, role: row.role, keyHash } : undefined;
    },

    /** Every live key: keys are few (people and systems), so a replica holds them all. */
    async listLive(): Promise<LiveApiKey[]> {
      const found: unknown = await keys().whereNull('revoked_at').select('id', 'role', 'key_hash');
      const rows = found as { id: string; role: ApiRole; key_hash: string }[];
      return rows.map((r) => ({ id: r.id, role: r.role, keyHash: r.key_hash }));
    },

    async touch(id: string, at: Date): Promise<void> {
      // At most once a minute per key: a write per request would make reads write-heavy.
      await keys()
        .where({ id })
        .andWhere((q) => {
          void q
            .whereNull('last_used_at')
            .orWhere('last_used_at', '<', new Date(at.getTime() - 60_000));
        })
        .update({ last_used_at: at });
    },

    async insert(trx: Knex.Transaction, key: NewApiKey): Promise<ApiKeyView> {
      const [row] = (await keys(trx).insert(toRow(key)).returning('*')) as ApiKeyRow[];
      return toView(row!);
    },

    /**
     * Makes `key` the one bootstrap key: inserted if its hash is new, and any bootstrap key
     * with another hash (an earlier PSC_ADMIN_API_KEY) revoked. Safe with several replicas.
     * Returns the ids it revoked, and whether `key` itself was revoked earlier (it stays so).
     */
    async ensureBootstrap(
      trx: Knex.Transaction,
      key: NewApiKey,
      at: Date,
    ): Promise<{ revoked: string[]; itselfRevoked: boolean }> {
      await trx.raw('select pg_advisory_xact_lock(hashtext(?))', ['gateway.bootstrap-key']);
      await keys(trx)
        .insert(toRow({ ...key, bootstrap: true }))
        .onConflict('key_hash')
        .ignore();
      const revoked: unknown = await keys(trx)
        .where({ bootstrap: true })
        .whereNot({ key_hash: key.keyHash })
        .whereNull('revoked_at')
        .update({ revoked_at: at })
        .returning('id');
      const own = await keys(trx)
        .where({ key_hash: key.keyHash })
        .first<{ revoked_at: Date | null } | undefined>('revoked_at');
      return {
        revoked: (revoked as { id: string }[]).map((r) => r.id),
        itselfRevoked: own?.revoked_at != null,
      };
    },

    async list(page: { limit: number; afterId?: string }): Promise<ApiKeyView[]> {
      const q = keys().whereNull('revoked_at').orderBy('id').limit(page.limit);
      if (page.afterId) void q.where('id', '>', page.afterId);
      return ((await q) as ApiKeyRow[]).map(toView);
    },

    async revoke(trx: Knex.Transaction, id: string, at: Date): Promise<ApiKeyView | undefined> {
      const [row] = (await keys(trx)
        .where({ id })
        .whereNull('revoked_at')
        .update({ revoked_at: at })
        .returning('*')) as ApiKeyRow[];
      return row ? toView(row) : undefined;
    },
  };
}

export type ApiKeyRepository = ReturnType<typeof createApiKeyRepository>;
