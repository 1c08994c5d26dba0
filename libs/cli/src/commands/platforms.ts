import type { components } from '@psc/api-client';
import type { Command } from 'commander';
import { call } from '../api.ts';
import { action, type Context } from '../context.ts';
import { CliError, EXIT, usageError } from '../errors.ts';
import { printMore, readList, withPaging, type Paging, type PagingOptions } from '../paging.ts';
import { jsonObjectArg, platformId, readJsonFile } from '../refs.ts';

type Platform = components['schemas']['Platform'];
type TestResult = components['schemas']['PlatformTestResult'];
/** A resource's test, or why the API would not test it (a missing param, the platform away…). */
type TestRow = Omit<TestResult, 'status' | 'latencyMs'> & {
  status: number | null;
  latencyMs: number | null;
};

const PAGING: Paging = { max: 500, default: 500, rows: 'platforms', all: true };

/** Values of `{{param}}` placeholders: a JSON object of strings. */
function paramsArg(value: string): Record<string, string> {
  const params = jsonObjectArg(value);
  for (const [k, v] of Object.entries(params)) {
    if (typeof v !== 'string') throw usageError(`--params: "${k}" must be a string.`);
  }
  return params as Record<string, string>;
}

function printPlatform(ctx: Context, p: Platform): void {
  ctx.out.result(p, () => {
    ctx.out.fields({
      id: p.id,
      name: p.name,
      'base url': p.baseUrl,
      active: p.active,
      priority: p.priority,
      tags: p.tags.join(', '),
      auth: p.auth.type,
      version: p.version,
      updated: p.updatedAt,
    });
    ctx.out.line();
    ctx.out.table(
      ['resource', 'tasks', 'path', 'key'],
      p.resources.map((r) => [r.name, r.tasks.join(','), r.request.path, r.key]),
    );
  });
}

export function platformsCommand(program: Command, env: NodeJS.ProcessEnv): void {
  const platforms = program
    .command('platforms')
    .alias('platform')
    .description('register, inspect, change and retire platforms');

  withPaging(
    platforms
      .command('ls')
      .alias('list')
      .description('list platforms by name')
      .option('--active', 'only active ones')
      .option('--tag <tag>', 'only those with this tag'),
    PAGING,
  ).action(
    action(env, async (ctx, opts: PagingOptions & { active?: boolean; tag?: string }) => {
      const api = ctx.api();
      const page = await readList(api, PAGING, opts, (query) =>
        api.client.GET('/api/v1/platforms', {
          params: {
            query: {
              ...query,
              ...(opts.active ? { active: 'true' as const } : {}),
              ...(opts.tag ? { tag: opts.tag } : {}),
            },
          },
        }),
      );
      ctx.out.result(page, () => {
        ctx.out.table(
          ['id', 'name', 'active', 'resources', 'base url'],
          page.items.map((p) => [
            p.id,
            p.name,
            p.active,
            p.resources.map((r) => r.name).join(','),
            p.baseUrl,
          ]),
        );
        printMore(ctx.out, PAGING, page);
      });
    }),
  );

  platforms
    .command('show')
    .description('one platform with its resources (credentials masked)')
    .argument('<platform>', 'id or name')
    .action(
      action(env, async (ctx, ref: string) => {
        const api = ctx.api();
        const id = await platformId(api, ref);
        printPlatform(
          ctx,
          await call(api, api.client.GET('/api/v1/platforms/{id}', { params: { path: { id } } })),
        );
      }),
    );

  platforms
    .command('add')
    .description('register a platform from a JSON definition (see docs/ADDING_A_PLATFORM.md)')
    .requiredOption('-f, --file <file.json>', 'the definition; - reads stdin')
    .action(
      action(env, async (ctx, opts: { file: string }) => {
        const body = readJsonFile(opts.file) as components['schemas']['PlatformInput'];
        const api = ctx.api();
        const created = await call(api, api.client.POST('/api/v1/platforms', { body }));
        if (!ctx.out.json) ctx.out.success(`Registered ${created.name} (${created.id}).`);
        printPlatform(ctx, created);
      }),
    );

  platforms
    .command('edit')
    .description('change a platform with a JSON merge patch (RFC 7396): -f patch.json or --set')
    .argument('<platform>', 'id or name')
    .option('-f, --file <patch.json>', 'the merge patch; - reads stdin')
    .option('--set <json>', 'the merge patch inline, e.g. \'{"active":false}\'', jsonObjectArg)
    .action(
      action(
        env,
        async (ctx, ref: string, opts: { file?: string; set?: Record<string, unknown> }) => {
          if (!opts.file === !opts.set)
            throw usageError('give the change with either -f <patch.json> or --set <json>');
          const body = (opts.set ??
            readJsonFile(opts.file!)) as components['schemas']['PlatformMergePatch'];
          const api = ctx.api();
          const id = await platformId(api, ref);
          const changed = await call(
            api,
            api.client.PATCH('/api/v1/platforms/{id}', { params: { path: { id } }, body }),
          );
          if (!ctx.out.json)
            ctx.out.success(`Changed ${changed.name} (version ${changed.version}).`);
          printPlatform(ctx, changed);
        },
      ),
    );

  platforms
    .command('rm')
    .description('retire a platform: its schedules stop and its queued jobs are cancelled')
    .argument('<platform>', 'id or name')
    .action(
      action(env, async (ctx, ref: string) => {
        const api = ctx.api();
        const id = await platformId(api, ref);
        await call(api, api.client.DELETE('/api/v1/platforms/{id}', { params: { path: { id } } }));
        ctx.out.result({ id, deleted: true }, () => ctx.out.success(`Retired ${ref}.`));
      }),
    );

  platforms
    .command('test')
    .description('send one real request per resource: status, latency, item count')
    .argument('<platform>', 'id or name')
    .option('-r, --resource <name>', 'only this resource')
    .option('--params <json>', "values of the requests' {{param}} placeholders", paramsArg)
    .action(
      action(
        env,
        async (ctx, ref: string, opts: { resource?: string; params?: Record<string, string> }) => {
          // The gateway waits up to 125 s for the registry's test of a slow platform.
          const api = ctx.api({ timeoutMs: 135_000 });
          const id = await platformId(api, ref);
          const names = opts.resource
            ? [opts.resource]
            : (
                await call(
                  api,
                  api.client.GET('/api/v1/platforms/{id}', { params: { path: { id } } }),
                )
              ).resources.map((r) => r.name);
          const results: TestRow[] = [];
          let unreachable = false;
          for (const resource of names) {
            try {
              results.push(
                await call(
                  api,
                  api.client.POST('/api/v1/platforms/{id}/test', {
                    params: { path: { id } },
                    body: { resource, params: opts.params ?? {} },
                  }),
                ),
              );
            } catch (err) {
              // No gateway, or a refused key, refuses every resource: said once, as by any command.
              if (!(err instanceof CliError) || [undefined, 401, 403].includes(err.status))
                throw err;
              // One resource the API would not test (a param missing, the platform timed out or
              // away) is that resource's answer: the others are still tested.
              unreachable ||= err.exitCode === EXIT.unreachable;
              results.push({
                resource,
                ok: false,
                status: null,
                latencyMs: null,
                itemCount: null,
                problem: err.code ? `${err.code}: ${err.message}` : err.message,
              });
            }
          }
          ctx.out.result(results, () => {
            ctx.out.table(
              ['resource', 'ok', 'status', 'latency ms', 'items', 'problem'],
              results.map((r) => [
                r.resource,
                r.ok,
                r.status,
                r.latencyMs === null ? null : Math.round(r.latencyMs),
                r.itemCount,
                r.problem,
              ]),
            );
          });
          if (results.some((r) => !r.ok)) {
            const needsParams = results.some((r) => r.problem?.startsWith('missing_param'));
            throw new CliError(`the platform did not answer as expected`, {
              exitCode: unreachable ? EXIT.unreachable : EXIT.failed,
              hint: needsParams
                ? 'Give the requests\' placeholders values with --params \'{"name":"value"}\'.'
                : 'Check the base URL, auth and request path with `psc platforms show`.',
            });
          }
        },
      ),
    );
}
