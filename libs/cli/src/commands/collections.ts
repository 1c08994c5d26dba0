import { Option, type Command } from 'commander';
import type { components } from '@psc/api-client';
import { call } from '../api.ts';
import { action } from '../context.ts';
import { watchJobs } from '../jobs-watch.ts';
import { streamExport } from '../export-stream.ts';
import { printMore, readList, withPaging, type Paging, type PagingOptions } from '../paging.ts';
import { intArg, jsonObjectArg, platformId, uuidArg } from '../refs.ts';
import { reportFinished } from './sync.ts';

type ChildStatus = components['schemas']['CollectionChildPage']['items'][number]['status'];
const CHILD_STATUSES: readonly ChildStatus[] = ['pending', 'succeeded', 'failed'];
const CHILDREN: Paging = { max: 500, default: 50, rows: 'children' };
const DOCUMENTS: Paging = { max: 500, default: 50, rows: 'documents' };

export function collectionsCommand(program: Command, env: NodeJS.ProcessEnv): void {
  const collections = program
    .command('collections')
    .alias('collection')
    .description('collect runs of collector resources');

  collections
    .command('run')
    .description('start a collect run of a resource with its params')
    .argument('<platform>', 'platform id or name')
    .argument('<resource>', 'collector resource')
    .option(
      '--params <json>',
      'the run\'s params as a JSON object, e.g. \'{"date":"2026-01-01"}\'',
      jsonObjectArg,
    )
    .option('--priority <1-9>', 'queue priority', intArg(1, 9))
    .option('-w, --wait', 'wait for the run to end and print its stats')
    .action(
      action(
        env,
        async (
          ctx,
          ref: string,
          resource: string,
          opts: { params?: Record<string, unknown>; priority?: number; wait?: boolean },
        ) => {
          const api = ctx.api();
          const id = await platformId(api, ref);
          const started = await call(
            api,
            api.client.POST('/api/v1/collections', {
              body: {
                platformId: id,
                resource,
                params: opts.params ?? {},
                ...(opts.priority === undefined ? {} : { priority: opts.priority }),
              },
            }),
          );
          if (!opts.wait) {
            ctx.out.result(started, () => {
              ctx.out.line(started.jobId);
              ctx.out.line(`Follow it with \`psc collections show ${started.jobId}\`.`);
            });
            return;
          }
          reportFinished(
            ctx,
            await watchJobs(api, ctx.out, [started.jobId], { label: `${ref}/${resource}` }),
          );
        },
      ),
    );

  withPaging(
    collections
      .command('show')
      .description('a collect run: status, document count, fan-out children')
      .argument('<job>', "the run's job id", uuidArg)
      .option(
        '-d, --documents',
        'also list the raw documents it fetched (-n, --cursor: a page of them)',
      ),
    DOCUMENTS,
  ).action(
    action(env, async (ctx, jobId: string, opts: PagingOptions & { documents?: boolean }) => {
      const api = ctx.api();
      const path = { params: { path: { jobId } } };
      const run = await call(api, api.client.GET('/api/v1/collections/{jobId}', path));
      const documents = opts.documents
        ? await readList(api, DOCUMENTS, opts, (query) =>
            api.client.GET('/api/v1/collections/{jobId}/documents', {
              params: { path: { jobId }, query },
            }),
          )
        : undefined;
      ctx.out.result(documents ? { ...run, documentPage: documents } : run, () => {
        ctx.out.fields({
          job: run.jobId,
          platform: run.platformId,
          resource: run.resource,
          params: run.params,
          status: run.status,
          documents: run.documents,
          children: run.children
            ? `${run.children.succeeded} succeeded, ${run.children.failed} failed of ${run.children.total}`
            : null,
          started: run.startedAt,
          finished: run.finishedAt,
        });
        if (documents) {
          ctx.out.line();
          ctx.out.table(
            ['id', 'child', 'fetched at'],
            documents.items.map((d) => [
              d.id,
              d.childIndex,
              (d as { fetchedAt?: string }).fetchedAt,
            ]),
          );
          printMore(ctx.out, DOCUMENTS, documents);
        }
      });
    }),
  );
  collections
    .command('export')
    .description(
      'stream every document a run fetched to stdout (`> file`): JSON lines with provenance',
    )
    .argument('<job>', "the run's job id", uuidArg)
    .action(
      action(env, async (ctx, jobId: string) => {
        const api = ctx.api();
        const body = await call(
          api,
          api.untimed.GET('/api/v1/collections/{jobId}/documents/export', {
            params: { path: { jobId } },
            parseAs: 'stream',
          }),
        );
        // The documents are the output, with or without --json, as `data export`'s records are.
        if (body) await streamExport(body, ctx.out.stdout, 'documents');
      }),
    );

  withPaging(
    collections
      .command('children')
      .description("a fan-out run's children by index: state, error, when and where each ended")
      .argument('<job>', "the run's job id", uuidArg)
      .addOption(new Option('-s, --status <status>').choices(CHILD_STATUSES)),
    CHILDREN,
  ).action(
    action(env, async (ctx, jobId: string, opts: PagingOptions & { status?: ChildStatus }) => {
      const api = ctx.api();
      const page = await readList(api, CHILDREN, opts, (query) =>
        api.client.GET('/api/v1/collections/{jobId}/children', {
          params: {
            path: { jobId },
            query: { ...query, ...(opts.status ? { status: opts.status } : {}) },
          },
        }),
      );
      ctx.out.result(page, () => {
        ctx.out.table(
          ['child', 'status', 'error', 'finished at', 'replica'],
          page.items.map((c) => [c.index, c.status, c.error, c.finishedAt, c.workerId]),
        );
        printMore(ctx.out, CHILDREN, page);
      });
    }),
  );
}
