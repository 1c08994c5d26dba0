/*
 * Baseline for scenario 3: a bare Koa app with a pg pool answering the same two reads as psc's
 * gateway, straight from the tables (psc goes gateway → RabbitMQ RPC → owning service → table).
 * Prints `ready <port>`.
 */
import { Readable } from 'node:stream';
import pg from 'pg';
import { Koa } from '../lib/deps.ts';

const { DATABASE_URL } = process.env;
if (!DATABASE_URL) throw new Error('gateway-server: DATABASE_URL');
const db = new pg.Pool({ connectionString: DATABASE_URL, max: 10 });
const JOB = /^\/api\/v1\/jobs\/([0-9a-f-]{36})$/;
const EXPORT = /^\/api\/v1\/data\/([0-9a-f-]{36})\/([^/]+)\/export$/;
const EXPORT_BATCH = 1_000;

/** Every live record of a resource as JSON lines, read in keyset batches: constant memory. */
async function* exportLines(platformId: string, resource: string): AsyncGenerator<string> {
  let after = { parentKey: '', key: '' };
  for (;;) {
    // Keyset on the primary key's order, (parent_key, key): ordering by key alone made every
    // batch sort the whole resource (1,000,000 rows: minutes, not seconds).
    const { rows } = await db.query<{
      key: string;
      parent_key: string;
      data: unknown;
      updated_at: Date;
    }>(
      `select parent_key, key, data, updated_at from sync.records
        where platform_id = $1 and resource = $2 and deleted_at is null
          and (parent_key, key) > ($3, $4)
        order by parent_key, key limit $5`,
      [platformId, resource, after.parentKey, after.key, EXPORT_BATCH],
    );
    if (rows.length === 0) return;
    yield rows.map(({ parent_key: _, ...r }) => `${JSON.stringify(r)}\n`).join('');
    const last = rows[rows.length - 1]!;
    after = { parentKey: last.parent_key, key: last.key };
  }
}

const app = new Koa();
app.use(async (ctx) => {
  const job = JOB.exec(ctx.path);
  if (job) {
    const { rows } = await db.query<Record<string, unknown>>(
      'select * from scheduler.jobs where id = $1',
      [job[1]],
    );
    if (rows.length === 0) ctx.throw(404);
    ctx.body = rows[0];
    return;
  }
  const exported = EXPORT.exec(ctx.path);
  if (exported) {
    ctx.type = 'application/x-ndjson';
    ctx.body = Readable.from(exportLines(exported[1]!, decodeURIComponent(exported[2]!)));
    return;
  }
  if (ctx.path === '/api/v1/platforms') {
    const limit = Math.min(500, Number(ctx.query.limit ?? 50));
    const { rows } = await db.query<{ definition: Record<string, unknown>; name: string }>(
      `select id, version, definition, created_at, updated_at from registry.platforms
        where deleted_at is null order by name limit $1`,
      [limit + 1],
    );
    ctx.body = {
      items: rows.slice(0, limit).map((r) => ({ ...r.definition, ...r, definition: undefined })),
      nextCursor: rows.length > limit ? rows[limit - 1]!.name : null,
    };
    return;
  }
  ctx.throw(404);
});
const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(`ready ${typeof address === 'object' && address ? address.port : ''}`);
});
const stop = (): void => {
  server.close();
  void db.end().finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
