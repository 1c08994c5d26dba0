import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { call, type Api } from '../api.ts';
import { action } from '../context.ts';
import { CliError, EXIT, usageError } from '../errors.ts';
import { streamExport } from '../export-stream.ts';
import { printMore, readList, withPaging, type Paging, type PagingOptions } from '../paging.ts';
import { platformId } from '../refs.ts';

const RECORDS: Paging = { max: 500, default: 50, rows: 'records' };
/** Query parameters of the records list itself: a field of these names cannot be filtered on. */
const RESERVED = new Set(['cursor', 'limit', 'parentKey', 'includeDeleted']);

/** `--where name=value`, repeated: text equality on mapped fields, as the API filters them. */
function whereArg(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const match = /^([A-Za-z_][A-Za-z0-9_]{0,99})=(.*)$/s.exec(value);
  if (!match) throw new InvalidArgumentError('expected <field>=<value>, e.g. category=BOOTH.');
  const [, field, text] = match as unknown as [string, string, string];
  if (RESERVED.has(field)) {
    throw new InvalidArgumentError(`"${field}" is a parameter of the list, not a field filter.`);
  }
  return { ...previous, [field]: text };
}

/** The fields of a resource's (or `<resource>.<child>`'s) mapping, in the platform's order. */
async function mappingFields(api: Api, id: string, resource: string): Promise<string[]> {
  const platform = await call(
    api,
    api.client.GET('/api/v1/platforms/{id}', { params: { path: { id } } }),
  );
  const [top, child] = resource.split('.', 2) as [string, string | undefined];
  const parent = platform.resources.find((r) => r.name === top);
  const collection = child === undefined ? parent : parent?.children?.find((c) => c.name === child);
  return Object.keys(collection?.mapping ?? {});
}

/** A field's value in a table cell: text as it is, anything else as JSON. */
const cellOf = (value: unknown): string | undefined =>
  value === undefined || typeof value === 'string' ? value : JSON.stringify(value);

export function dataCommand(program: Command, env: NodeJS.ProcessEnv): void {
  const data = program
    .command('data')
    .description('synced records: export to a file, import from one');

  withPaging(
    data
      .command('ls')
      .alias('list')
      .description(
        "a resource's synced records by key, a page at a time (all of them: `data export`)",
      )
      .argument('<platform>', 'platform id or name')
      .argument('<resource>', 'resource, or <resource>.<child> for a child collection')
      .option(
        '--where <field=value>',
        'only records whose mapped field is this text (repeat: all must match)',
        whereArg,
      )
      .option('--parent <key>', "a child collection's records of this parent")
      .option('--deleted', 'also soft-deleted records (with when they were deleted)'),
    RECORDS,
  ).action(
    action(
      env,
      async (
        ctx,
        ref: string,
        resource: string,
        opts: PagingOptions & {
          where?: Record<string, string>;
          parent?: string;
          deleted?: boolean;
        },
      ) => {
        const api = ctx.api();
        const id = await platformId(api, ref);
        const page = await readList(api, RECORDS, opts, (query) =>
          api.client.GET('/api/v1/data/{platformId}/{resource}', {
            params: {
              path: { platformId: id, resource },
              query: {
                // Any other parameter filters a mapped field: the document cannot type those.
                ...(opts.where as object),
                ...query,
                ...(opts.parent === undefined ? {} : { parentKey: opts.parent }),
                ...(opts.deleted ? { includeDeleted: 'true' as const } : {}),
              },
            },
          }),
        );
        // The mapping's fields as columns in the platform's order, as `data export --format csv`
        // has them (a record's data comes back in PostgreSQL's jsonb order); then any field the
        // mapping no longer has.
        const mapped = ctx.out.json ? [] : await mappingFields(api, id, resource);
        ctx.out.result(page, () => {
          const fields = [
            ...new Set([...mapped, ...page.items.flatMap((r) => Object.keys(r.data))]),
          ].filter((f) => page.items.some((r) => f in r.data));
          const parent = page.items.some((r) => r.parentKey !== undefined);
          ctx.out.table(
            [
              'key',
              ...(parent ? ['parent'] : []),
              ...fields,
              'updated',
              ...(opts.deleted ? ['deleted'] : []),
            ],
            page.items.map((r) => [
              r.key,
              ...(parent ? [r.parentKey] : []),
              ...fields.map((f) => cellOf(r.data[f])),
              r.updatedAt,
              ...(opts.deleted ? [r.deletedAt] : []),
            ]),
          );
          printMore(ctx.out, RECORDS, page);
        });
      },
    ),
  );

  data
    .command('export')
    .description('stream every record of a resource to stdout (`> file`): JSON lines or CSV')
    .argument('<platform>', 'platform id or name')
    .argument('<resource>', 'resource, or <resource>.<child> for a child collection')
    .addOption(new Option('--format <format>').choices(['jsonl', 'csv']).default('jsonl'))
    .action(
      action(env, async (ctx, ref: string, resource: string, opts: { format: 'jsonl' | 'csv' }) => {
        const api = ctx.api();
        const id = await platformId(api, ref);
        const body = await call(
          api,
          api.untimed.GET('/api/v1/data/{platformId}/{resource}/export', {
            params: { path: { platformId: id, resource }, query: { format: opts.format } },
            parseAs: 'stream',
          }),
        );
        // The records are the output, with or without --json: nothing else is written to stdout.
        if (body) {
          await streamExport(body, ctx.out.stdout, opts.format === 'csv' ? 'lines' : 'records');
        }
      }),
    );

  data
    .command('import')
    .description('map and upsert upstream-shaped items into a resource, as a sync would')
    .argument('<platform>', 'platform id or name')
    .argument('<resource>', 'resource to import into')
    .argument(
      '<file>',
      'JSON lines (.jsonl/.ndjson) or a JSON array (.json); - reads JSON lines from stdin',
    )
    .action(
      action(env, async (ctx, ref: string, resource: string, file: string) => {
        const isArray = file.endsWith('.json');
        if (file !== '-') {
          try {
            await stat(file);
          } catch (err) {
            throw usageError(`cannot read ${file}: ${(err as Error).message}`);
          }
        }
        const api = ctx.api();
        const id = await platformId(api, ref);
        // Streamed: a file of any size goes up without being held in memory.
        const source = file === '-' ? process.stdin : createReadStream(file);
        const request = {
          params: { query: { platformId: id, resource } },
          body: [],
          bodySerializer: () => Readable.toWeb(source),
          headers: { 'content-type': isArray ? 'application/json' : 'application/x-ndjson' },
        };
        // fetch sends a stream body only with duplex 'half'; openapi-fetch passes it through.
        const summary = await call(
          api,
          api.untimed.POST('/api/v1/imports', Object.assign(request, { duplex: 'half' as const })),
        );
        ctx.out.result(summary, () => {
          ctx.out.fields({
            imported: summary.imported,
            inserted: summary.inserted,
            updated: summary.updated,
            unchanged: summary.unchanged,
            failed: summary.failed,
          });
          for (const e of summary.errors) ctx.out.line(`line ${e.line}: ${e.message}`);
        });
        if (summary.failed > 0) {
          throw new CliError(`${summary.failed} item(s) were not imported`, {
            exitCode: EXIT.failed,
            hint: 'Fix the lines listed above and import the file again (stored items are upserted).',
          });
        }
      }),
    );
}
