import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import knexFactory, { type Knex } from 'knex';

/** Server shared with other engineers: every test run creates and drops its own database. */
export const ADMIN_URL =
  process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function admin<T>(fn: (knex: Knex) => Promise<T>): Promise<T> {
  const knex = knexFactory({ client: 'pg', connection: ADMIN_URL, pool: { min: 0, max: 1 } });
  try {
    return await fn(knex);
  } finally {
    await knex.destroy();
  }
}

/** Creates `psc_libtest_<random>`; `drop()` removes it even with connections left open. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `psc_libtest_${randomBytes(6).toString('hex')}`;
  await admin((knex) => knex.raw('create database ??', [name]));
  return {
    name,
    url: withDatabase(ADMIN_URL, name),
    drop: () => admin((knex) => knex.raw('drop database if exists ?? with (force)', [name])),
  };
}

/** A URL naming a database that does not exist on the test server. */
export function missingDatabaseUrl(): string {
  return withDatabase(ADMIN_URL, `psc_libtest_missing_${randomBytes(6).toString('hex')}`);
}

/** A loopback port nothing listens on (bound by us, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve, reject) =>
    server.close((err) => (err ? reject(err) : resolve())),
  );
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}
