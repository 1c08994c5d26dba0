import type { Knex } from 'knex';
import type { PlatformWithSecrets as Platform } from '@psc/contracts';

interface PlatformRow {
  id: string;
  name: string;
  active: boolean;
  version: number;
  definition: Omit<Platform, 'id' | 'version' | 'createdAt' | 'updatedAt'>;
  created_at: Date;
  updated_at: Date;
}

function toPlatform(row: PlatformRow): Platform {
  return {
    ...row.definition,
    id: row.id,
    name: row.name,
    active: row.active,
    version: row.version,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export interface ListFilter {
  active?: boolean;
  afterName?: string;
  limit: number;
}

export function createPlatformRepository(knex: Knex) {
  const platforms = (q: Knex | Knex.Transaction = knex) =>
    q.withSchema('registry').table('platforms');

  return {
    async insert(trx: Knex.Transaction, platform: Platform): Promise<void> {
      const { id, name, active, version, createdAt, updatedAt, ...definition } = platform;
      await platforms(trx).insert({
        id,
        name,
        active,
        version,
        definition: JSON.stringify(definition) as unknown as PlatformRow['definition'],
        created_at: new Date(createdAt),
        updated_at: new Date(updatedAt),
      });
    },

    async findById(id: string): Promise<Platform | undefined> {
      const row = (await platforms().where({ id }).whereNull('deleted_at').first()) as
        PlatformRow | undefined;
      return row ? toPlatform(row) : undefined;
    },

    async existsByName(trx: Knex.Transaction, name: string): Promise<boolean> {
      const row: unknown = await platforms(trx).where({ name }).whereNull('deleted_at').first('id');
      return row !== undefined;
    },

    async list(filter: ListFilter): Promise<Platform[]> {
      const q = platforms().whereNull('deleted_at').orderBy('name').limit(filter.limit);
      if (filter.active !== undefined) void q.where({ active: filter.active });
      if (filter.afterName !== undefined) void q.where('name', '>', filter.afterName);
      const rows = (await q) as PlatformRow[];
      return rows.map(toPlatform);
    },
  };
}

export type PlatformRepository = ReturnType<typeof createPlatformRepository>;
