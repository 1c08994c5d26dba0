import { createRequire } from 'node:module';

/** The slice of a `pg` Client these helpers use. */
export interface PgClient {
  connect(): Promise<void>;
  query<Row = Record<string, unknown>>(
    sql: string,
    params?: unknown[],
  ): Promise<{ rows: Row[]; rowCount: number | null }>;
  end(): Promise<void>;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

interface PgModule {
  Client: new (config: { connectionString: string; connectionTimeoutMillis?: number }) => PgClient;
}

let pgModule: PgModule | undefined;

// @psc/testing has no @types/pg, so `import pg from 'pg'` fails type-checking; loading it through
// require keeps the untyped module behind the narrow interface above. Replace with a plain import
// once @types/pg is a devDependency.
function loadPg(): PgModule {
  pgModule ??= createRequire(import.meta.url)('pg') as PgModule;
  return pgModule;
}

/**
 * Opens a `pg` connection, runs `fn` and always closes it. Connection errors after connect (e.g.
 * the server going away) are swallowed here because the pending query already rejects with them.
 */
export async function withPgClient<R>(
  connectionString: string,
  fn: (client: PgClient) => Promise<R>,
): Promise<R> {
  const { Client } = loadPg();
  const client = new Client({ connectionString, connectionTimeoutMillis: 5_000 });
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Double-quotes a PostgreSQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
