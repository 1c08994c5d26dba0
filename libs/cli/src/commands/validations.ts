import type { Command } from 'commander';
import type { components } from '@psc/api-client';
import { call } from '../api.ts';
import { action, type Context } from '../context.ts';
import { printMore, readList, withPaging, type Paging, type PagingOptions } from '../paging.ts';
import { platformId, uuidArg } from '../refs.ts';

type DriftReport = components['schemas']['DriftReport'];
type Counts = DriftReport['counts'];

const PAGING: Paging = { max: 500, default: 50, rows: 'drift reports' };

const countsOf = (c: Counts): string =>
  `${c.fetched} fetched, ${c.missing} missing, ${c.extra} extra, ${c.changed} changed`;

/** A record's data in one cell: compact JSON. */
const json = (value: unknown): string => JSON.stringify(value) ?? '-';

/** A report lists the first 1,000 records of each kind; its counts are exact. */
const shown = (listed: number, count: number): string =>
  listed < count ? `, the first ${listed} of ${count}` : '';

function printReport(ctx: Context, r: DriftReport): void {
  ctx.out.fields({
    job: r.jobId,
    platform: r.platformId,
    resource: r.resource,
    at: r.at,
    drift: r.drift,
    counts: countsOf(r.counts),
  });
  if (r.changed.length > 0) {
    ctx.out.line();
    ctx.out.line(`changed (stored → on the platform)${shown(r.changed.length, r.counts.changed)}:`);
    ctx.out.table(
      ['key', 'field', 'stored', 'platform'],
      r.changed.flatMap((c) => c.fields.map((f) => [c.key, f.field, json(f.old), json(f.new)])),
    );
  }
  for (const [title, rows, count] of [
    ['missing (on the platform, not stored)', r.missing, r.counts.missing],
    ['extra (stored, gone from the platform)', r.extra, r.counts.extra],
  ] as const) {
    if (rows.length === 0) continue;
    ctx.out.line();
    ctx.out.line(`${title}${shown(rows.length, count)}:`);
    ctx.out.table(
      ['key', 'data'],
      rows.map((m) => [m.key, json(m.data)]),
    );
  }
}

export function validationsCommand(program: Command, env: NodeJS.ProcessEnv): void {
  const validations = program
    .command('validations')
    .alias('validation')
    .description('drift reports of validate jobs: stored records against the platform');

  withPaging(
    validations
      .command('ls')
      .alias('list')
      .description('drift reports, newest first, with their counts')
      .option('-p, --platform <platform>', 'platform id or name')
      .option('-r, --resource <name>'),
    PAGING,
  ).action(
    action(env, async (ctx, opts: PagingOptions & { platform?: string; resource?: string }) => {
      const api = ctx.api();
      const id = opts.platform ? await platformId(api, opts.platform) : undefined;
      const page = await readList(api, PAGING, opts, (query) =>
        api.client.GET('/api/v1/validations', {
          params: {
            query: {
              ...query,
              ...(id ? { platformId: id } : {}),
              ...(opts.resource ? { resource: opts.resource } : {}),
            },
          },
        }),
      );
      ctx.out.result(page, () => {
        ctx.out.table(
          ['job', 'resource', 'at', 'drift', 'fetched', 'missing', 'extra', 'changed'],
          page.items.map((v) => [
            v.jobId,
            v.resource,
            v.at,
            v.drift,
            v.counts.fetched,
            v.counts.missing,
            v.counts.extra,
            v.counts.changed,
          ]),
        );
        printMore(ctx.out, PAGING, page);
      });
    }),
  );

  validations
    .command('show')
    .description("a validate job's drift report: each changed field, missing and extra record")
    .argument('<job>', "the validate job's id", uuidArg)
    .action(
      action(env, async (ctx, jobId: string) => {
        const api = ctx.api();
        const report = await call(
          api,
          api.client.GET('/api/v1/validations/{jobId}', { params: { path: { jobId } } }),
        );
        ctx.out.result(report, () => printReport(ctx, report));
      }),
    );
}
