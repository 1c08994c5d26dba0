import type { Knex } from 'knex';
import { NonRetryableError } from '@psc/core';
import type { PlatformAuth, PlatformWithSecrets as Platform } from '@psc/contracts';
import type { Emit, Outbox } from '@psc/messaging';
import type { SecretBox } from './secret-box.ts';

type Definition = Omit<
  Platform,
  'id' | 'name' | 'active' | 'version' | 'createdAt' | 'updatedAt' | 'auth'
> & {
  /** Type and header/query name only: the token lives encrypted in `auth_secret`. */
  auth: { type: PlatformAuth['type']; name?: string };
};

/** A stored platform whose credential was not opened: its auth is type and name only. */
export type SealedPlatform = Omit<Platform, 'auth'> & { auth: Definition['auth'] };

interface PlatformRow {
  id: string;
  name: string;
  active: boolean;
  version: number;
  definition: Definition;
  auth_secret: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface ListFilter {
  active?: boolean;
  tag?: string;
  afterName?: string;
  limit: number;
}

/** The platforms' store inside one transaction; reads lock the row they return. */
export interface PlatformTx {
  /** `name_taken`: a concurrent create won the partial unique index on the name. */
  insert(platform: Platform): Promise<'inserted' | 'name_taken'>;
  /** Replaces the stored platform if it still has `previousVersion` (else `stale`). */
  update(platform: Platform, previousVersion: number): Promise<'updated' | 'stale' | 'name_taken'>;
  softDelete(id: string, version: number, at: Date): Promise<boolean>;
  findForUpdate(id: string): Promise<Platform | undefined>;
  existsByName(name: string, exceptId?: string): Promise<boolean>;
}

/**
 * The registry's platforms: rows of `registry.platforms`, credentials sealed at rest, and the
 * outbox transaction that changes them with their events. PostgreSQL's errors stay here.
 */
export function createPlatformStore(knex: Knex, box: SecretBox, outbox: Outbox) {
  const platforms = (q: Knex | Knex.Transaction = knex) =>
    q.withSchema('registry').table('platforms');

  function openSecret(sealed: string, id: string): string {
    try {
      return box.open(sealed, id);
    } catch (err) {
      throw new NonRetryableError(
        'secret_key_mismatch',
        `platform ${id}: its stored credential does not open with PSC_SECRET_KEY (stored under another key, or damaged); start the registry with the key it was stored under (in PSC_SECRET_KEY_PREVIOUS after a rotation), or register the platform again`,
        { cause: err },
      );
    }
  }

  function toPlatform(row: PlatformRow): Platform {
    const { auth } = row.definition;
    const token = row.auth_secret === null ? undefined : openSecret(row.auth_secret, row.id);
    return {
      ...toSealed(row),
      auth: (auth.type === 'none' ? { type: 'none' } : { ...auth, token }) as PlatformAuth,
    };
  }

  /** The platform with its credential left sealed: its type and name, never its token. */
  function toSealed(row: PlatformRow): SealedPlatform {
    const { auth, ...definition } = row.definition;
    return {
      ...definition,
      auth,
      id: row.id,
      name: row.name,
      active: row.active,
      version: row.version,
      createdAt: row.created_at.toISOString(),
      updatedAt: row.updated_at.toISOString(),
    };
  }

  function toRow(platform: Platform) {
    const { id, name, active, version, createdAt, updatedAt, auth, ...rest } = platform;
    const definition: Definition = {
      ...rest,
      auth: { type: auth.type, ...('name' in auth ? { name: auth.name } : {}) },
    };
    return {
      id,
      name,
      active,
      version,
      definition: JSON.stringify(definition),
      auth_secret: 'token' in auth ? box.seal(auth.token, id) : null,
      created_at: new Date(createdAt),
      updated_at: new Date(updatedAt),
    };
  }

  const findRow = async (id: string) =>
    (await platforms().where({ id }).whereNull('deleted_at').first()) as PlatformRow | undefined;

  const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === '23505';

  const within = (trx: Knex.Transaction): PlatformTx => ({
    async insert(platform: Platform): Promise<'inserted' | 'name_taken'> {
      try {
        await platforms(trx).insert(toRow(platform));
        return 'inserted';
      } catch (err) {
        if (isUniqueViolation(err)) return 'name_taken';
        throw err;
      }
    },

    async update(
      platform: Platform,
      previousVersion: number,
    ): Promise<'updated' | 'stale' | 'name_taken'> {
      const { id, created_at: _created, ...row } = toRow(platform);
      try {
        const n = await platforms(trx)
          .where({ id, version: previousVersion })
          .whereNull('deleted_at')
          .update(row);
        return n === 1 ? 'updated' : 'stale';
      } catch (err) {
        if (isUniqueViolation(err)) return 'name_taken';
        throw err;
      }
    },

    async softDelete(id: string, version: number, at: Date): Promise<boolean> {
      const n = await platforms(trx)
        .where({ id, version })
        .whereNull('deleted_at')
        .update({ deleted_at: at, version: version + 1, updated_at: at });
      return n === 1;
    },

    async findForUpdate(id: string): Promise<Platform | undefined> {
      const row = (await platforms(trx)
        .where({ id })
        .whereNull('deleted_at')
        .first()
        .forUpdate()) as PlatformRow | undefined;
      return row ? toPlatform(row) : undefined;
    },

    async existsByName(name: string, exceptId?: string): Promise<boolean> {
      const q = platforms(trx).where({ name }).whereNull('deleted_at');
      if (exceptId) void q.whereNot({ id: exceptId });
      const row: unknown = await q.first('id');
      return row !== undefined;
    },
  });

  return {
    /**
     * Runs `work` in one transaction of the registry's outbox: what it emits is published once
     * it commits, and nothing if it fails.
     */
    transaction<T>(work: (tx: PlatformTx, emit: Emit) => Promise<T>): Promise<T> {
      return outbox.transaction((trx, emit) => work(within(trx), emit));
    },

    async findById(id: string): Promise<Platform | undefined> {
      const row = await findRow(id);
      return row ? toPlatform(row) : undefined;
    },

    /** The platform with its credential left sealed, for reads that show it masked. */
    async findSealed(id: string): Promise<SealedPlatform | undefined> {
      const row = await findRow(id);
      return row ? toSealed(row) : undefined;
    },

    /**
     * A page of platforms, credentials left sealed: a list shows them masked anyway, so it opens
     * no secret (and one that cannot be opened does not fail the page).
     */
    async list(filter: ListFilter): Promise<SealedPlatform[]> {
      const q = platforms().whereNull('deleted_at').orderBy('name').limit(filter.limit);
      if (filter.active !== undefined) void q.where({ active: filter.active });
      if (filter.tag !== undefined) {
        void q.whereRaw(`(definition -> 'tags')::jsonb @> ?::jsonb`, [
          JSON.stringify([filter.tag]),
        ]);
      }
      if (filter.afterName !== undefined) void q.where('name', '>', filter.afterName);
      const rows = (await q) as PlatformRow[];
      return rows.map(toSealed);
    },
  };
}

export type PlatformStore = ReturnType<typeof createPlatformStore>;
