import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  createIsolatedEnv,
  freePort,
  spawnService,
  startTcpProxy,
  waitFor,
  type IsolatedEnv,
  type TcpProxy,
} from '@psc/testing';
import { launchOf } from '../support/launch.ts';

const ALL_SERVICES = [
  'platform-registry',
  'scheduler',
  'sync-worker',
  'collector',
  'gateway',
] as const;
/** Secrets every service may require; start-up failures under test must be about the database. */
const secrets = {
  PSC_SECRET_KEY: randomBytes(32).toString('base64'),
  PSC_ADMIN_API_KEY: `psc_admin_${randomBytes(16).toString('hex')}`,
  PSC_WORKER_SECRET_KEY: randomBytes(32).toString('base64'),
};

describe('service start-up', () => {
  let env: IsolatedEnv;
  before(async () => {
    env = await createIsolatedEnv({ name: 'startup' });
  });
  after(async () => {
    await env?.cleanup();
  });
  /** A service started on the test's vhost and database, with every secret, and `extra`. */
  const startWith = (name: string, extra: Record<string, string>) =>
    spawnService({
      name,
      ...launchOf(name),
      env: {
        ...secrets,
        AMQP_URL: env.amqpUrl,
        DATABASE_URL: env.databaseUrl,
        HTTP_PORT: '0',
        ...extra,
      },
    });

  for (const name of ALL_SERVICES) {
    it(`when ${name} gets an unreachable DATABASE_URL, then it exits non-zero with one line naming it`, async () => {
      const closed = await freePort();
      const service = startWith(name, {
        DATABASE_URL: `postgres://psc:s3cret-pw@127.0.0.1:${closed}/psc`,
      });
      const exit = await service.exited;
      assert.equal(exit.code, 1);
      const lines = service.lines();
      assert.equal(lines.length, 1, `expected one line, got:\n${lines.join('\n')}`);
      assert.match(lines[0]!, new RegExp(`^${name}: DATABASE_URL: .*refused`));
      assert.doesNotMatch(lines[0]!, /s3cret-pw/);
    });
  }

  it('when DATABASE_URL is not a postgres URL, then the service exits non-zero naming it', async () => {
    const service = spawnService({
      name: 'scheduler',
      ...launchOf('scheduler'),
      env: { AMQP_URL: env.amqpUrl, DATABASE_URL: 'mysql://root@127.0.0.1/psc', HTTP_PORT: '0' },
    });
    assert.equal((await service.exited).code, 1);
    assert.match(
      service.lines().join('\n'),
      /^scheduler: invalid configuration: DATABASE_URL: must be a postgres:\/\/ URL$/m,
    );
  });

  it('when HTTP_PORT is not a number, then the service exits non-zero naming it', async () => {
    const service = spawnService({
      name: 'gateway',
      ...launchOf('gateway'),
      env: { AMQP_URL: env.amqpUrl, HTTP_PORT: 'eighty' },
    });
    assert.equal((await service.exited).code, 1);
    assert.match(service.lines().join('\n'), /^gateway: invalid configuration: HTTP_PORT: /m);
  });

  it('when PSC_IMPORT_MAX_ITEM_BYTES is over its 16 MiB bound, then the gateway exits non-zero naming it', async () => {
    const service = startWith('gateway', {
      PSC_IMPORT_MAX_ITEM_BYTES: String(64 * 1024 * 1024),
    });
    assert.equal((await service.exited).code, 1);
    assert.match(
      service.lines().join('\n'),
      /^gateway: invalid configuration: PSC_IMPORT_MAX_ITEM_BYTES: /m,
    );
  });

  it('when a worker is told to hold fewer jobs than it runs at once, then it exits non-zero naming both settings', async () => {
    for (const [name, concurrency, prefetch] of [
      ['sync-worker', 'PSC_WORKER_CONCURRENCY', 'PSC_WORKER_PREFETCH'],
      ['collector', 'PSC_COLLECTOR_CHILD_CONCURRENCY', 'PSC_COLLECTOR_CHILD_PREFETCH'],
    ] as const) {
      const service = startWith(name, { [concurrency]: '8', [prefetch]: '4' });
      assert.equal((await service.exited).code, 1);
      assert.match(
        service.lines().join('\n'),
        new RegExp(
          `^${name}: invalid configuration: ${prefetch} \\(4\\) must be at least ${concurrency} \\(8\\)`,
          'm',
        ),
      );
    }
  });
});

describe('readiness follows RabbitMQ', () => {
  let env: IsolatedEnv;
  let proxy: TcpProxy;
  before(async () => {
    env = await createIsolatedEnv({ name: 'readiness' });
    const target = new URL(env.amqpUrl);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5672) });
  });
  after(async () => {
    await proxy?.stop();
    await env?.cleanup();
  });

  it('when RabbitMQ goes away, then /ready answers 503 on every service, and 200 again once it is back, without a restart', async () => {
    const services = await Promise.all(
      ALL_SERVICES.map(async (name) => {
        const port = await freePort();
        const process = spawnService({
          name,
          ...launchOf(name),
          env: {
            ...secrets,
            AMQP_URL: proxy.url(env.amqpUrl),
            DATABASE_URL: env.databaseUrl,
            HTTP_PORT: String(port),
          },
        });
        return { name, process, url: `http://127.0.0.1:${port}` };
      }),
    );
    const ready = async (url: string): Promise<number> =>
      (await fetch(`${url}/ready`, { signal: AbortSignal.timeout(5_000) })).status;
    try {
      for (const s of services) {
        await waitFor(async () => (await ready(s.url)) === 200, {
          timeoutMs: 30_000,
          message: `${s.name} ready`,
        });
      }
      proxy.cut();
      for (const s of services) {
        await waitFor(async () => (await ready(s.url)) === 503, {
          timeoutMs: 30_000,
          message: `${s.name} 503`,
        });
        const health = await fetch(`${s.url}/health`);
        assert.equal(health.status, 200, `${s.name} stays alive while RabbitMQ is away`);
      }
      proxy.restore();
      for (const s of services) {
        await waitFor(async () => (await ready(s.url)) === 200, {
          timeoutMs: 30_000,
          message: `${s.name} ready again`,
        });
      }
      for (const s of services) {
        const exited = await Promise.race([s.process.exited, Promise.resolve('running')]);
        assert.equal(exited, 'running', `${s.name} was not restarted`);
      }
    } finally {
      await Promise.all(services.map((s) => s.process.stop()));
    }
  });
});
