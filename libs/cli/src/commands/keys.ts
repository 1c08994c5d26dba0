import { Option, type Command } from 'commander';
import { call } from '../api.ts';
import { action } from '../context.ts';
import { printMore, readList, withPaging, type Paging, type PagingOptions } from '../paging.ts';
import { uuidArg } from '../refs.ts';

const PAGING: Paging = { max: 500, default: 500, rows: 'keys' };

export function keysCommand(program: Command, env: NodeJS.ProcessEnv): void {
  const keys = program
    .command('keys')
    .alias('key')
    .description('API keys (admin): list, create, revoke');

  withPaging(
    keys
      .command('ls')
      .alias('list')
      .description('live keys: id, name, role, prefix (never the key)'),
    PAGING,
  ).action(
    action(env, async (ctx, opts: PagingOptions) => {
      const api = ctx.api();
      const page = await readList(api, PAGING, opts, (query) =>
        api.client.GET('/api/v1/api-keys', { params: { query } }),
      );
      ctx.out.result(page, () => {
        ctx.out.table(
          ['id', 'name', 'role', 'prefix', 'created', 'last used'],
          page.items.map((k) => [k.id, k.name, k.role, k.prefix, k.createdAt, k.lastUsedAt]),
        );
        printMore(ctx.out, PAGING, page);
      });
    }),
  );

  keys
    .command('create')
    .description('create a key; it is shown once, in this answer only')
    .requiredOption('--name <name>', 'who or what uses it')
    .addOption(
      new Option('--role <role>').choices(['viewer', 'operator', 'admin']).makeOptionMandatory(),
    )
    .action(
      action(env, async (ctx, opts: { name: string; role: 'viewer' | 'operator' | 'admin' }) => {
        const api = ctx.api();
        const created = await call(
          api,
          api.client.POST('/api/v1/api-keys', { body: { name: opts.name, role: opts.role } }),
        );
        ctx.out.result(created, () => {
          ctx.out.fields({
            id: created.id,
            name: created.name,
            role: created.role,
            key: created.key,
          });
          ctx.out.line('Keep the key now: it is not shown again.');
        });
      }),
    );

  keys
    .command('revoke')
    .description('revoke a key: every gateway refuses it within a second')
    .argument('<id>', 'key id', uuidArg)
    .action(
      action(env, async (ctx, id: string) => {
        const api = ctx.api();
        await call(api, api.client.DELETE('/api/v1/api-keys/{id}', { params: { path: { id } } }));
        ctx.out.result({ id, revoked: true }, () => ctx.out.success(`Revoked key ${id}.`));
      }),
    );
}
