import type { Knex } from 'knex';
import type { PlatformAuth, PlatformWithSecrets as Platform } from '@psc/contracts';
import type { SecretBox } from './secret-box.ts';

type Definition = Omit<
  Platform,
  'id' | 'name' | 'active' | 'version' | 'createdAt' | 'updatedAt' | 'auth'
> & {
  /** Type and header/query name only: the token lives encrypted in `auth_secret`. */
  auth: { type: PlatformAuth['type']; name?: string };
};

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

export function createPlatformRepository(knex: Knex, box: SecretBox) {
  const platforms = (q: Knex | Knex.Transaction = knex) =>
    q.withSchema('registry').table('platforms');

  function toPlatform(row: PlatformRow): Platform {
    const { auth, ...definition } = row.definition;
    const token = row.auth_secret === null ? undefined : box.open(row.auth_secret, row.id);
    return {
      ...definition,
      auth: (auth.type === 'none' ? { type: 'none' } : { ...auth, token }) as PlatformAuth,
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

  return {
    async insert(trx: Knex.Transaction, platform: Platform): Promise<void> {
      await platforms(trx).insert(toRow(platform));
    },

    /** Replaces the stored platform if it still has `previousVersion`; false if it moved on. */
    async update(trx: Knex.Transaction, platform: Platform, previousVersion: number) {
      const { id, created_at: _created, ...row } = toRow(platform);
      const n = await platforms(trx)
        .where({ id, version: previousVersion })
        .whereNull('deleted_at')
        .update(row);
      return n === 1;
    },

    async softDelete(trx: Knex.Transaction, id: string, version: number, at: Date) {
      const n = await platforms(trx)
        .where({ id, version })
        .whereNull('deleted_at')
        .update({ deleted_at: at, version: version + 1, updated_at: at });
      return n === 1;
    },

    async findById(id: string, trx?: Knex.Transaction): Promise<Platform | undefined> {
      const q = platforms(trx).where({ id }).whereNull('deleted_at').first();
      if (trx) void q.forUpdate();
      const row = (await q) as PlatformRow | undefined;
      return row ? toPlatform(row) : undefined;
    },

    async existsByName(trx: Knex.Transaction, name: string, exceptId?: string): Promise<boolean> {
      const q = platforms(trx).where({ name }).whereNull('deleted_at');
      if (exceptId) void q.whereNot({ id: exceptId });
      const row: unknown = await q.first('id');
      return row !== undefined;
    },

    async list(filter: ListFilter): Promise<Platform[]> {
      const q = platforms().whereNull('deleted_at').orderBy('name').limit(filter.limit);
      if (filter.active !== undefined) void q.where({ active: filter.active });
      if (filter.tag !== undefined) {
        void q.whereRaw(`definition -> 'tags' @> ?::jsonb`, [JSON.stringify([filter.tag])]);
      }
      if (filter.afterName !== undefined) void q.where('name', '>', filter.afterName);
      const rows = (await q) as PlatformRow[];
      return rows.map(toPlatform);
    },
  };
}

export type PlatformRepository = ReturnType<typeof createPlatformRepository>;
