import pg from 'pg';

/** Runs `template` with `args` quoted by PostgreSQL itself (format's %I and %L). */
async function runFormatted(client: pg.Client, template: string, args: string[]): Promise<void> {
  const { rows } = await client.query<{ sql: string }>(
    `select format($1, ${args.map((_, i) => `$${i + 2}::text`).join(', ')}) as sql`,
    [template, ...args],
  );
  await client.query(rows[0]!.sql);
}

export interface ServiceRole {
  /** The login to create or update. */
  role: string;
  password: string;
  /** The one schema it owns. */
  schema: string;
}

/**
 * Gives each role a login on the database of `adminUrl` owning its schema and nothing else: the
 * schema is created for it (or, made by an earlier shared login, handed over with its tables,
 * views and sequences), and it may connect. It cannot create schemas, and sees no other schema,
 * whose owners grant nothing. Idempotent: running it again resets the passwords and takes back
 * what another login created in a schema since. `adminUrl` must be a login that may create roles
 * and owns the database, or a superuser.
 */
export async function provisionServiceRoles(
  adminUrl: string,
  roles: readonly ServiceRole[],
): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  const run = (template: string, ...args: string[]) => runFormatted(client, template, args);
  try {
    const { rows } = await client.query<{ db: string }>('select current_database() as db');
    const database = rows[0]!.db;
    for (const { role, password, schema } of roles) {
      const exists = await client.query('select 1 from pg_roles where rolname = $1', [role]);
      await run(
        exists.rowCount === 0
          ? 'create role %I login password %L'
          : 'alter role %I login password %L',
        role,
        password,
      );
      await run('grant connect on database %I to %I', database, role);
      const schemaRow = await client.query('select 1 from pg_namespace where nspname = $1', [
        schema,
      ]);
      if (schemaRow.rowCount === 0) {
        await run('create schema %I authorization %I', schema, role);
        continue;
      }
      await run('alter schema %I owner to %I', schema, role);
      // A table's owner change takes its own sequences along; free-standing ones go one by one.
      const owned = await client.query<{ kind: string; name: string }>(
        `select case when c.relkind = 'S' then 'sequence' else 'table' end as kind, c.relname as name
           from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = $1 and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
            and not exists (select 1 from pg_depend d
                             where d.objid = c.oid and d.deptype in ('a', 'i') and c.relkind = 'S')`,
        [schema],
      );
      for (const { kind, name } of owned.rows) {
        await run(`alter ${kind} %I.%I owner to %I`, schema, name, role);
      }
    }
  } finally {
    await client.end();
  }
}

/**
 * Takes the roles away: what they own in the database of `adminUrl` goes to the admin login
 * (schemas and tables stay), their grants there are dropped, then the roles. A missing role is
 * no error. Objects a role owns in other databases keep it from being dropped.
 */
export async function removeServiceRoles(
  adminUrl: string,
  roles: readonly string[],
): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  const run = (template: string, role: string) => runFormatted(client, template, [role]);
  try {
    for (const role of roles) {
      const exists = await client.query('select 1 from pg_roles where rolname = $1', [role]);
      if (exists.rowCount === 0) continue;
      await run('reassign owned by %I to current_user', role);
      await run('drop owned by %I', role);
      await run('drop role %I', role);
    }
  } finally {
    await client.end();
  }
}
