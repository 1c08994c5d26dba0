import type { components } from '@psc/api-client';
import type { Command } from 'commander';
import { call } from '../api.ts';
import { action, type Context } from '../context.ts';
import { CliError, EXIT, usageError } from '../errors.ts';
import { jsonObjectArg, platformId, readJsonFile } from '../refs.ts';

type Platform = components['schemas']['Platform'];
type TestResult = components['schemas']['PlatformTestResult'];

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

  platforms
    .command('ls')
    .alias('list')
    .description('list platforms by name')
    .option('--active', 'only active ones')
    .option('--tag <tag>', 'only those with this tag')
    .action(
      action(env, async (ctx, opts: { active?: boolean; tag?: string }) => {
        const api = ctx.api();
        const page = await call(
          api,
          api.client.GET('/api/v1/platforms', {
            params: {
              query: {
                limit: 500,
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
          if (page.nextCursor) ctx.out.line('(more: narrow with --tag or --active)');
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
    .action(
      action(env, async (ctx, ref: string, opts: { resource?: string }) => {
        const api = ctx.api();
        const id = await platformId(api, ref);
        const names = opts.resource
          ? [opts.resource]
          : (
              await call(
                api,
                api.client.GET('/api/v1/platforms/{id}', { params: { path: { id } } }),
              )
            ).resources.map((r) => r.name);
        const results: TestResult[] = [];
        for (const resource of names) {
          results.push(
            await call(
              api,
              api.client.POST('/api/v1/platforms/{id}/test', {
                params: { path: { id } },
                body: { resource, params: {} },
              }),
            ),
          );
        }
        ctx.out.result(results, () => {
          ctx.out.table(
            ['resource', 'ok', 'status', 'latency ms', 'items', 'problem'],
            results.map((r) => [
              r.resource,
              r.ok,
              r.status,
              Math.round(r.latencyMs),
              r.itemCount,
              r.problem,
            ]),
          );
        });
        if (results.some((r) => !r.ok)) {
          throw new CliError(`the platform did not answer as expected`, {
            exitCode: EXIT.failed,
            hint: 'Check the base URL, auth and request path with `psc platforms show`.',
          });
        }
      }),
    );
}
