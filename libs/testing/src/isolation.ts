import { createManagementApi, managementPath, type ManagementApi } from '@psc/messaging';
import { startInfra, type Infra } from './infra.ts';
import {
  createdAtFromName,
  DATABASE_PREFIX,
  testResourceNames,
  VHOST_PREFIX,
} from './isolation-names.ts';
import { quoteIdent, withPgClient } from './pg-client.ts';
import { urlUser, withPathSegment } from './urls.ts';

/** A RabbitMQ vhost and a PostgreSQL database that belong to one test alone. */
export interface IsolatedEnv {
  /** AMQP URL of the shared broker with the fresh vhost as its path. */
  amqpUrl: string;
  /** PostgreSQL URL pointing at the fresh database. */
  databaseUrl: string;
  vhost: string;
  database: string;
  /** Deletes the vhost and drops the database (closing open connections). Safe to call twice. */
  cleanup(): Promise<void>;
}

export interface IsolatedEnvOptions {
  /** Readable label appended to the vhost and database names, e.g. the test's name. */
  name?: string;
}

export interface DroppedTestResources {
  vhosts: string[];
  databases: string[];
  /** Broker users and PostgreSQL roles a test made for its vhost or database (least privilege). */
  users: string[];
  roles: string[];
}

const STALE_AFTER_MS = 60 * 60 * 1000;
let staleSweep: Promise<void> | undefined;

/**
 * Creates a fresh vhost `psc-test-…` (with full permissions for the AMQP URL's user) and a fresh
 * database `psc_test_…` (from template0) on the shared infra. The first call in a process also
 * removes resources older than an hour that crashed runs left behind.
 */
export async function createIsolatedEnv(options: IsolatedEnvOptions = {}): Promise<IsolatedEnv> {
  const infra = await startInfra();
  staleSweep ??= dropStaleTestResources(STALE_AFTER_MS, infra).then(
    () => undefined,
    // Leftovers only cost disk space; a failed sweep must not fail the test that triggered it.
    (err: unknown) =>
      process.emitWarning(`psc testing: stale resource sweep failed: ${String(err)}`),
  );
  await staleSweep;

  const { vhost, database } = testResourceNames(Date.now(), options.name);
  const api = createManagementApi(infra.managementUrl);
  await createVhost(api, vhost, urlUser(infra.amqpUrl, 'guest'), options.name);
  try {
    await withPgClient(infra.databaseUrl, (client) =>
      client.query(`CREATE DATABASE ${quoteIdent(database)} TEMPLATE template0`),
    );
  } catch (err) {
    await deleteVhost(api, vhost).catch(() => {});
    throw err;
  }

  let cleaning: Promise<void> | undefined;
  return {
    vhost,
    database,
    amqpUrl: withPathSegment(infra.amqpUrl, encodeURIComponent(vhost)),
    databaseUrl: withPathSegment(infra.databaseUrl, encodeURIComponent(database)),
    cleanup: () => {
      // Then the logins a test (or the `npm start` it ran) made for this vhost and database, named
      // after them (`<vhost>.<service>`, `<database>_<service>`): users and roles are global.
      cleaning ??= settleAll([
        deleteVhost(api, vhost),
        dropDatabase(infra.databaseUrl, database),
      ]).then(async () => {
        const users = (await brokerNames(api, '/api/users')).filter((n) =>
          n.startsWith(`${vhost}.`),
        );
        const roles = await postgresNames(infra.databaseUrl, 'pg_roles', 'rolname', `${database}_`);
        await removeLogins(api, infra.databaseUrl, users, roles);
      });
      return cleaning;
    },
  };
}

/**
 * Deletes `psc-test-*` vhosts and broker users and drops `psc_test_*` databases and roles whose
 * name says they were created more than `olderThanMs` ago. Returns what it removed.
 */
export async function dropStaleTestResources(
  olderThanMs: number,
  infra?: Infra,
): Promise<DroppedTestResources> {
  const { managementUrl, databaseUrl } = infra ?? (await startInfra());
  const api = createManagementApi(managementUrl);
  const now = Date.now();
  const isStale = (name: string): boolean => {
    const createdAt = createdAtFromName(name);
    return createdAt !== undefined && now - createdAt > olderThanMs;
  };

  /** Stale names of our own among a management API listing (`/api/vhosts`, `/api/users`). */
  const staleOnBroker = async (path: string): Promise<string[]> =>
    (await brokerNames(api, path)).filter((n) => n.startsWith(VHOST_PREFIX)).filter(isStale);
  /** Stale names of our own in a PostgreSQL catalog (`pg_database`, `pg_roles`). */
  const staleInPostgres = async (catalog: string, column: string): Promise<string[]> =>
    (await postgresNames(databaseUrl, catalog, column, DATABASE_PREFIX)).filter(isStale);

  const vhosts = await staleOnBroker('/api/vhosts?columns=name');
  const users = await staleOnBroker('/api/users');
  const databases = await staleInPostgres('pg_database', 'datname');
  const roles = await staleInPostgres('pg_roles', 'rolname');

  await settleAll([
    ...vhosts.map((vhost) => deleteVhost(api, vhost)),
    ...databases.map((database) => dropDatabase(databaseUrl, database)),
  ]);
  await removeLogins(api, databaseUrl, users, roles);
  return { vhosts, databases, users, roles };
}

/** The names in a management API listing (`/api/vhosts`, `/api/users`). */
async function brokerNames(api: ManagementApi, path: string): Promise<string[]> {
  const listed = await api.get(path);
  return (Array.isArray(listed) ? listed : [])
    .map((entry: unknown) => (entry as { name?: unknown }).name)
    .filter((name): name is string => typeof name === 'string');
}

/** The names starting with `prefix` in a PostgreSQL catalog (`pg_database`, `pg_roles`). */
function postgresNames(
  databaseUrl: string,
  catalog: string,
  column: string,
  prefix: string,
): Promise<string[]> {
  return withPgClient(databaseUrl, async (client) => {
    const { rows } = await client.query<Record<string, string>>(
      `SELECT ${column} AS name FROM ${catalog} WHERE starts_with(${column}, $1)`,
      [prefix],
    );
    return rows.map((row) => row.name!);
  });
}

/** Deletes broker users and drops PostgreSQL roles: after their databases, since a role that owns something in one cannot be dropped. */
async function removeLogins(
  api: ManagementApi,
  databaseUrl: string,
  users: readonly string[],
  roles: readonly string[],
): Promise<void> {
  await settleAll([
    ...users.map((user) => api.delete(managementPath('users', user), { missingOk: true })),
    ...roles.map((role) =>
      withPgClient(databaseUrl, (client) =>
        client.query(`DROP ROLE IF EXISTS ${quoteIdent(role)}`),
      ),
    ),
  ]);
}

async function createVhost(
  api: ManagementApi,
  vhost: string,
  user: string,
  label: string | undefined,
): Promise<void> {
  await api.put(managementPath('vhosts', vhost), {
    description: `psc test${label ? `: ${label}` : ''}`,
    tags: 'psc-test',
  });
  await api.put(managementPath('permissions', vhost, user), {
    configure: '.*',
    write: '.*',
    read: '.*',
  });
}

async function deleteVhost(api: ManagementApi, vhost: string): Promise<void> {
  // 404: already gone (a second cleanup, or another process's sweep got there first).
  await api.delete(managementPath('vhosts', vhost), { missingOk: true });
}

async function dropDatabase(adminUrl: string, database: string): Promise<void> {
  await withPgClient(adminUrl, (client) =>
    client.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`),
  );
}

/** Waits for every promise, then throws if any failed, so one failure does not hide the rest. */
async function settleAll(work: Promise<unknown>[]): Promise<void> {
  const failures = (await Promise.allSettled(work)).flatMap((result) =>
    result.status === 'rejected' ? [result.reason as unknown] : [],
  );
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new AggregateError(failures, 'psc testing: cleanup failed');
}
