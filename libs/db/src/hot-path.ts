import type { Knex } from 'knex';
import type { ClientBase, QueryResultRow } from 'pg';

/**
 * A statement of a hot path, run as a named prepared statement: PostgreSQL parses and plans it
 * once per connection instead of once per call, and knex builds nothing. Use it only for
 * statements whose good plan does not depend on their values or on `set local` planner
 * settings (a connection keeps its plan).
 */
export interface PreparedStatement {
  /** Unique per text: name the schema in it when the text holds one. */
  readonly name: string;
  /** `$1`-style placeholders. */
  readonly text: string;
}

/** Turns knex's `?` placeholders (none inside literals or as the jsonb `?` operator) into `$n`. */
export function numbered(text: string, from = 1): string {
  let n = from;
  return text.replace(/\?/g, () => `$${n++}`);
}

/**
 * Prepared statements whose text is built at run time from a part that does not vary per call
 * (an outbox's CTE): one per distinct text, named `${name}.0`, `.1`, … so each is parsed once
 * per connection. Give it `?` placeholders; they are numbered here.
 */
export function preparedByText(name: string): (text: string) => PreparedStatement {
  const statements = new Map<string, PreparedStatement>();
  return (text) => {
    let statement = statements.get(text);
    if (!statement) {
      statement = { name: `${name}.${statements.size}`, text: numbered(text) };
      statements.set(text, statement);
    }
    return statement;
  };
}

interface ClientInternals {
  client: {
    acquireConnection(): Promise<ClientBase>;
    releaseConnection(connection: ClientBase): Promise<unknown>;
  };
}

/**
 * Runs `statement` on a connection of the pool, or inside `q`'s transaction on its connection.
 * Name the columns it returns: a `select *` prepared before a migration adds a column fails
 * with "cached plan must not change result type".
 */
export async function runPrepared<R extends QueryResultRow>(
  q: Knex | Knex.Transaction,
  statement: PreparedStatement,
  values: unknown[],
): Promise<R[]> {
  // A transaction's client hands out the transaction's own connection, and keeps it on release.
  const { client } = q as unknown as ClientInternals;
  const connection = await client.acquireConnection();
  try {
    const result = await connection.query<R>({
      name: statement.name,
      text: statement.text,
      values,
    });
    return result.rows;
  } finally {
    await client.releaseConnection(connection);
  }
}

interface PendingTransaction {
  begin?: (connection: unknown) => Promise<unknown>;
  query?: (connection: unknown, sql: string) => Promise<unknown>;
}

/**
 * `knex.transaction(work)` whose `BEGIN` also runs `preamble` (statements without parameters,
 * such as `set local lock_timeout = 5000`) in the same round trip: knex sends `BEGIN;` on its
 * own, and on this machine a round trip costs the client ~0.25 ms of CPU in system calls.
 */
export function transactionWith<T>(
  knex: Knex,
  preamble: string,
  work: (trx: Knex.Transaction) => Promise<T>,
): Promise<T> {
  const pending = knex.transaction(work);
  const trx = pending as unknown as PendingTransaction;
  // knex calls `begin` once it has a connection from the pool, after this returns.
  if (typeof trx.begin !== 'function' || typeof trx.query !== 'function') {
    throw new Error('this knex version has no transaction begin hook');
  }
  const query = trx.query.bind(trx);
  trx.begin = (connection) => query(connection, `BEGIN; ${preamble}`);
  return pending;
}
