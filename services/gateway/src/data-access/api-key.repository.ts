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

/**
 * How long a live key found by its hash is trusted without asking PostgreSQL again (issue 7:
 * a lookup per request). A key revoked through this replica stops working at once; through
 * another replica, within this time.
 */
export const API_KEY_CACHE_MS = 5_000;

export function createApiKeyRepository(knex: Knex, options: { cacheMs?: number } = {}) {
  const keys = (q: Knex | Knex.Transaction = knex) => q.withSchema('gateway').table('api_keys');
  const cacheMs = options.cacheMs ?? API_KEY_CACHE_MS;
  // Only live keys are cached (an unknown key always asks, and counts as a failed attempt).
  const cache = new Map<string, { key: { id: string; role: ApiRole }; expires: number }>();
  /** Forgets cached keys now and again once `trx` has committed (a lookup may race it). */
  const forgetAll = (trx?: Knex.Transaction) => {
    cache.clear();
    void trx?.executionPromise.then(
      () => cache.clear(),
      () => undefined,
    );
  };

  return {
    /** The live key with this hash, if any. */
    async findByHash(keyHash: string): Promise<{ id: string; role: ApiRole } | undefined> {
      const hit = cache.get(keyHash);
      if (hit && hit.expires > Date.now()) return hit.key;
      const found: unknown = await keys()
        .where({ key_hash: keyHash })
        .whereNull('revoked_at')
        .first('id', 'role');
      const row = found as { id: string; role: ApiRole } | undefined;
      if (row && cacheMs > 0) {
        if (cache.size >= 10_000) cache.clear(); // bounded: keys are few, hashes of junk are not cached
        cache.set(keyHash, { key: { id: row.id, role: row.role }, expires: Date.now() + cacheMs });
      }
      return row;
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
     */
    async ensureBootstrap(key: NewApiKey, at: Date): Promise<void> {
      await knex.transaction(async (trx) => {
        forgetAll(trx);
        await trx.raw('select pg_advisory_xact_lock(hashtext(?))', ['gateway.bootstrap-key']);
        await keys(trx)
          .insert(toRow({ ...key, bootstrap: true }))
          .onConflict('key_hash')
          .ignore();
        await keys(trx)
          .where({ bootstrap: true })
          .whereNot({ key_hash: key.keyHash })
          .whereNull('revoked_at')
          .update({ revoked_at: at });
      });
    },

    async list(page: { limit: number; afterId?: string }): Promise<ApiKeyView[]> {
      const q = keys().whereNull('revoked_at').orderBy('id').limit(page.limit);
      if (page.afterId) void q.where('id', '>', page.afterId);
      return ((await q) as ApiKeyRow[]).map(toView);
    },

    async revoke(trx: Knex.Transaction, id: string, at: Date): Promise<ApiKeyView | undefined> {
      forgetAll(trx);
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
