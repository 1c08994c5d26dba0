import { Option, type Command } from 'commander';
import { WEBHOOK_EVENTS, type components, type WebhookEvent } from '@psc/api-client';
import { call, type Api } from '../api.ts';
import { action, type Context } from '../context.ts';
import { printMore, readList, withPaging, type Paging, type PagingOptions } from '../paging.ts';
import { uuidArg } from '../refs.ts';

type Webhook = components['schemas']['Webhook'];
type Delivery = components['schemas']['WebhookDelivery'];

const DELIVERIES: Paging = { max: 500, default: 50, rows: 'deliveries' };

function printWebhook(ctx: Context, w: Webhook, data: unknown = w): void {
  ctx.out.result(data, () => {
    ctx.out.fields({
      id: w.id,
      url: w.url,
      events: w.events.join(', '),
      description: w.description,
      enabled: w.enabled,
      'disabled because': w.disabledReason,
      'failures in a row': w.consecutiveFailures,
      created: w.createdAt,
    });
  });
}

/** A delivery's last attempt, as the table shows it. */
function lastAttempt(d: Delivery): string | null {
  const last = d.log.at(-1);
  if (!last) return null;
  return last.error ?? (last.statusCode === null ? null : `HTTP ${last.statusCode}`);
}

export function webhooksCommand(program: Command, env: NodeJS.ProcessEnv): void {
  const webhooks = program
    .command('webhooks')
    .alias('webhook')
    .description('webhook subscriptions (admin): signed POSTs of job.dead, drift, breaker opened…');

  webhooks
    .command('ls')
    .alias('list')
    .description('every subscription, with whether it is enabled and why not')
    .action(
      action(env, async (ctx) => {
        const api = ctx.api();
        const list = await call(api, api.client.GET('/api/v1/webhooks'));
        ctx.out.result(list, () => {
          ctx.out.table(
            ['id', 'url', 'events', 'enabled', 'disabled because', 'failures'],
            list.items.map((w) => [
              w.id,
              w.url,
              w.events.join(', '),
              w.enabled,
              w.disabledReason,
              w.consecutiveFailures,
            ]),
          );
        });
      }),
    );

  webhooks
    .command('add')
    .description('subscribe a URL; the signing secret is shown once, in this answer only')
    .argument('<url>', 'where the POSTs go')
    .addOption(
      new Option('--event <event...>', 'events to send (repeat or list)')
        .choices(WEBHOOK_EVENTS)
        .makeOptionMandatory(),
    )
    .option('--description <text>')
    .action(
      action(
        env,
        async (ctx, url: string, opts: { event: WebhookEvent[]; description?: string }) => {
          const api = ctx.api();
          const created = await call(
            api,
            api.client.POST('/api/v1/webhooks', {
              body: {
                url,
                events: [...new Set(opts.event)],
                ...(opts.description ? { description: opts.description } : {}),
              },
            }),
          );
          printWebhook(ctx, created, created);
          if (!ctx.out.json) {
            ctx.out.line();
            ctx.out.fields({ secret: created.secret });
            ctx.out.line('Keep the secret now: it signs every delivery and is not shown again.');
          }
        },
      ),
    );

  webhooks
    .command('show')
    .description('one subscription (never its secret)')
    .argument('<id>', 'subscription id', uuidArg)
    .action(
      action(env, async (ctx, id: string) => {
        const api = ctx.api();
        printWebhook(
          ctx,
          await call(api, api.client.GET('/api/v1/webhooks/{id}', { params: { path: { id } } })),
        );
      }),
    );

  // Each route written out whole: test/docs/cli-coverage.test.ts finds the CLI's calls by them.
  for (const [name, description, send] of [
    [
      'enable',
      'switch a subscription back on; its failure count starts again',
      (api: Api, id: string) =>
        api.client.POST('/api/v1/webhooks/{id}/enable', { params: { path: { id } } }),
    ],
    [
      'disable',
      'switch it off: no new deliveries, pending ones wait',
      (api: Api, id: string) =>
        api.client.POST('/api/v1/webhooks/{id}/disable', { params: { path: { id } } }),
    ],
  ] as const) {
    webhooks
      .command(name)
      .description(description)
      .argument('<id>', 'subscription id', uuidArg)
      .action(
        action(env, async (ctx, id: string) => {
          const api = ctx.api();
          printWebhook(ctx, await call(api, send(api, id)));
        }),
      );
  }

  webhooks
    .command('rm')
    .description('delete a subscription and its delivery log; pending deliveries are not sent')
    .argument('<id>', 'subscription id', uuidArg)
    .action(
      action(env, async (ctx, id: string) => {
        const api = ctx.api();
        await call(api, api.client.DELETE('/api/v1/webhooks/{id}', { params: { path: { id } } }));
        ctx.out.result({ id, deleted: true }, () => ctx.out.success(`Deleted webhook ${id}.`));
      }),
    );

  webhooks
    .command('test')
    .description('queue a signed webhook.test delivery to the subscription’s URL')
    .argument('<id>', 'subscription id', uuidArg)
    .action(
      action(env, async (ctx, id: string) => {
        const api = ctx.api();
        const delivery = await call(
          api,
          api.client.POST('/api/v1/webhooks/{id}/test', { params: { path: { id } } }),
        );
        ctx.out.result(delivery, () =>
          ctx.out.success(
            `Queued delivery ${delivery.id}; see it with \`psc webhooks deliveries ${id}\`.`,
          ),
        );
      }),
    );

  withPaging(
    webhooks
      .command('deliveries')
      .description('the delivery log, newest first: status, attempts, last answer')
      .argument('<id>', 'subscription id', uuidArg)
      .addOption(new Option('-s, --status <status>').choices(['pending', 'succeeded', 'failed'])),
    DELIVERIES,
  ).action(
    action(
      env,
      async (
        ctx,
        id: string,
        opts: PagingOptions & { status?: 'pending' | 'succeeded' | 'failed' },
      ) => {
        const api = ctx.api();
        const page = await readList(api, DELIVERIES, opts, (query) =>
          api.client.GET('/api/v1/webhooks/{id}/deliveries', {
            params: {
              path: { id },
              query: { ...query, ...(opts.status ? { status: opts.status } : {}) },
            },
          }),
        );
        ctx.out.result(page, () => {
          ctx.out.table(
            ['id', 'event', 'status', 'attempts', 'last answer', 'next attempt', 'created'],
            page.items.map((d) => [
              d.id,
              d.eventType,
              d.status,
              d.attempts,
              lastAttempt(d),
              d.nextAttemptAt,
              d.createdAt,
            ]),
          );
          printMore(ctx.out, DELIVERIES, page);
        });
      },
    ),
  );
}
