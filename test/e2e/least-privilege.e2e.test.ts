import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import pg from 'pg';
import { EXCHANGES, QUEUES, brokerUsers, type ServiceName } from '@psc/contracts';
import { removeServiceRoles } from '@psc/db';
import { createManagementApi, ManagementApiError, removeBrokerUsers } from '@psc/messaging';
import {
  boothSample,
  startFakePlatform,
  startInfra,
  waitFor,
  type FakePlatform,
} from '@psc/testing';
import { boothPlatform, raceCardsResource, type JobView } from '../support/platforms.ts';
import { SERVICE_NAMES, startSystem, type System } from '../support/system.ts';
import { repoRoot } from '../../scripts/build.ts';
import { dbRole, passwordVariable, withLogin } from '../../scripts/login-passwords.ts';

const DATE = '2024-07-01';
const RACES = 3;

const secret = () => randomBytes(18).toString('base64url');

/**
 * Runs a provisioning script as the image's `SERVICE=provision` does (deploy/entrypoint.sh):
 * every password from the environment, `--require-passwords`.
 */
async function provision(
  script: 'broker-users.ts' | 'db-roles.ts',
  args: string[],
  env: Record<string, string>,
): Promise<string> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--conditions=psc-dist', `scripts/${script}`, '--require-passwords', ...args],
    { cwd: repoRoot, env: { ...process.env, ...env } },
  );
  return stdout;
}

interface Login {
  service: ServiceName;
  user: string;
  password: string;
}

describe('least privilege: each service under its own RabbitMQ user and PostgreSQL login', () => {
  let system: System;
  let fake: FakePlatform;
  let managementUrl: string;
  let adminDbUrl: string;
  let users: Login[];
  let roles: Login[];
  let output: { broker: string; database: string };
  const userOf = (service: ServiceName) => users.find((u) => u.service === service)!;
  const roleOf = (service: ServiceName) => roles.find((r) => r.service === service)!;
  const brokerLogin = (service: ServiceName) =>
    withLogin(system.env.amqpUrl, userOf(service).user, userOf(service).password);
  const dbLogin = (service: ServiceName) =>
    withLogin(system.env.databaseUrl, roleOf(service).user, roleOf(service).password);

  before(async () => {
    fake = await startFakePlatform({ collections: { '/booth/all': boothSample(25) } });
    fake.route('GET', `/meetings/${DATE}`, () => ({
      body: { entries: Array.from({ length: RACES }, (_, race) => ({ race })) },
    }));
    for (let race = 0; race < RACES; race += 1) {
      fake.route('GET', `/card/${DATE}/${race}`, () => ({ body: { runners: [{ race }] } }));
    }
    system = await startSystem({ name: 'least-privilege', services: [] });
    const infra = await startInfra();
    managementUrl = infra.managementUrl;
    adminDbUrl = infra.databaseUrl;
    // Users and roles are global to their server: prefixes after the vhost's and database's
    // names keep them apart from other tests'.
    const brokerPrefix = `${system.env.vhost}.`;
    const dbPrefix = `${system.env.database}_`;
    users = brokerUsers(brokerPrefix).map((u) => ({ ...u, password: secret() }));
    roles = SERVICE_NAMES.map((service) => ({
      service,
      user: dbRole(service, dbPrefix),
      password: secret(),
    }));
    const passwords: Record<string, string> = Object.fromEntries([
      ...users.map((u): [string, string] => [passwordVariable('BROKER', u.service), u.password]),
      ...roles.map((r): [string, string] => [passwordVariable('DB', r.service), r.password]),
    ]);
    output = {
      broker: await provision('broker-users.ts', ['--prefix', brokerPrefix], {
        ...passwords,
        RABBITMQ_MANAGEMENT_URL: managementUrl,
        AMQP_URL: system.env.amqpUrl,
      }),
      database: await provision('db-roles.ts', ['--prefix', dbPrefix], {
        ...passwords,
        DATABASE_URL: system.env.databaseUrl,
      }),
    };
    for (const name of SERVICE_NAMES) {
      await system.start(name, {
        AMQP_URL: brokerLogin(name),
        DATABASE_URL: dbLogin(name),
        // The gateway reads queue depths through the management API with its own login too.
        ...(name === 'gateway'
          ? {
              RABBITMQ_MANAGEMENT_URL: withLogin(
                managementUrl,
                userOf(name).user,
                userOf(name).password,
              ),
            }
          : {}),
      });
    }
  });
  after(async () => {
    await system?.stop();
    await fake?.stop();
    if (users) await removeBrokerUsers({ managementUrl, users });
    // The database went with the system: nothing of the roles is left but the roles.
    if (roles)
      await removeServiceRoles(
        adminDbUrl,
        roles.map((r) => r.user),
      );
  });

  it("when the logins are provisioned from the environment, then the scripts print each service's URL with its login and never a password", () => {
    for (const u of users) {
      assert.match(output.broker, new RegExp(`^${u.service}\\tAMQP_URL=amqp://${u.user}@`, 'm'));
    }
    for (const r of roles) {
      assert.match(
        output.database,
        new RegExp(`^${r.service}\\tDATABASE_URL=postgres://${r.user}@`, 'm'),
      );
    }
    for (const login of [...users, ...roles]) {
      assert.ok(!`${output.broker}${output.database}`.includes(login.password), login.user);
    }
  });

  const syncOnce = async (platformId: string): Promise<JobView> => {
    const run = await system.api<{ jobs: { id: string }[] }>('/api/v1/run/sync', {
      body: { platformId, resource: 'booths' },
    });
    assert.equal(run.status, 202, JSON.stringify(run.body));
    const id = run.body.jobs[0]!.id;
    return waitFor(
      async () => {
        const job = (await system.api<JobView>(`/api/v1/jobs/${id}`)).body;
        return ['succeeded', 'failed', 'dead'].includes(job.status) ? job : undefined;
      },
      { timeoutMs: 30_000, message: `job ${id} ended` },
    );
  };

  let platformId: string;

  it('when every service runs under its own user, then a platform registers, a sync retried after a 500 succeeds, and cancellations reach the workers', async () => {
    const booths = boothPlatform(fake.url);
    const created = await system.api<{ id: string }>('/api/v1/platforms', {
      body: { ...booths, resources: [...booths.resources, raceCardsResource()] },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    platformId = created.body.id;
    // The first page fails once: the sync-worker sends the job through its delay queue.
    fake.failNext(1, { status: 500 }, { path: '/booth/all' });
    const job = await syncOnce(platformId);
    assert.equal(job.status, 'succeeded', JSON.stringify(job));
    assert.equal(job.attempts, 2, 'retried once through the delay queue');
    assert.equal(job.stats?.fetched, 25);

    // job.cancel-requested: published by the scheduler, consumed by both workers.
    fake.setLatency(2_000, { path: '/booth/all' });
    const run = await system.api<{ jobs: { id: string }[] }>('/api/v1/run/sync', {
      body: { platformId, resource: 'booths' },
    });
    const id = run.body.jobs[0]!.id;
    await waitFor(
      async () => (await system.api<JobView>(`/api/v1/jobs/${id}`)).body.status === 'running',
      { message: 'job running' },
    );
    const cancel = await system.api(`/api/v1/jobs/${id}/cancel`, { body: {} });
    assert.equal(cancel.status, 200, JSON.stringify(cancel.body));
    const cancelled = await waitFor(
      async () => {
        const job = (await system.api<JobView>(`/api/v1/jobs/${id}`)).body;
        return job.status === 'cancelled' ? job : undefined;
      },
      { timeoutMs: 15_000, message: 'job cancelled' },
    );
    assert.equal(cancelled.status, 'cancelled');
    fake.setLatency(0, { path: '/booth/all' });

    // A fan-out collection: the collector publishes its children to psc.work and consumes them.
    const collect = await system.api<{ jobId: string }>('/api/v1/collections', {
      body: { platformId, resource: 'cards', params: { date: DATE } },
    });
    assert.equal(collect.status, 202, JSON.stringify(collect.body));
    const collection = await waitFor(
      async () => {
        const c = await system.api<{ status: string; children: { succeeded: number } | null }>(
          `/api/v1/collections/${collect.body.jobId}`,
        );
        return c.body.status === 'succeeded' ? c.body : undefined;
      },
      { timeoutMs: 30_000, message: 'collection succeeded' },
    );
    assert.equal(collection.children?.succeeded, RACES);
  });

  it("when the gateway's login publishes a job, forges a worker's event or reads a job queue, then the broker refuses each, while what the gateway may publish goes through", async () => {
    const connection = await amqp.connect(brokerLogin('gateway'));
    const refused = async (attempt: (ch: amqp.ConfirmChannel) => Promise<unknown>) => {
      const ch = await connection.createConfirmChannel();
      ch.on('error', () => {});
      const outcome = await attempt(ch).then(
        () => 'accepted',
        (err: unknown) => String(err),
      );
      return outcome;
    };
    const publish = (exchange: string, routingKey: string) => (ch: amqp.ConfirmChannel) =>
      new Promise<void>((resolve, reject) => {
        ch.publish(exchange, routingKey, Buffer.from('{}'), {}, (err) =>
          err ? reject(err as Error) : resolve(),
        );
        ch.once('close', () => reject(new Error('channel closed')));
        ch.once('error', (err: Error) => reject(err));
      });
    try {
      assert.match(await refused(publish(EXCHANGES.jobs, 'sync')), /ACCESS_REFUSED|403/);
      assert.match(await refused(publish(EXCHANGES.events, 'job.succeeded')), /ACCESS_REFUSED|403/);
      assert.match(await refused(publish('', QUEUES.syncJobs)), /ACCESS_REFUSED|403/);
      assert.match(
        await refused((ch) => ch.consume(QUEUES.syncJobs, () => {})),
        /ACCESS_REFUSED|403/,
      );
      // What the table names the gateway a producer of is allowed: the check can tell them apart.
      assert.equal(await refused(publish(EXCHANGES.events, 'log.recorded')), 'accepted');
    } finally {
      await connection.close();
    }
    // Nothing of that reached a worker or stopped one: the next sync runs as before.
    const job = await syncOnce(platformId);
    assert.equal(job.status, 'succeeded', JSON.stringify(job));
  });

  it("when a service's login publishes to the default exchange, sends an operation it is no caller of, publishes another's kind of job, or routes into another service's queue through psc.retry, then the broker refuses each, while its own calls and retries go through", async () => {
    const attempts = async (service: ServiceName) => {
      const connection = await amqp.connect(brokerLogin(service));
      const outcome = async (exchange: string, routingKey: string) => {
        const ch = await connection.createConfirmChannel();
        ch.on('error', () => {});
        return new Promise<void>((resolve, reject) => {
          ch.publish(exchange, routingKey, Buffer.from('{}'), {}, (err) =>
            err ? reject(err as Error) : resolve(),
          );
          // The broker's reason comes with 'error', before 'close'.
          ch.once('error', (err: Error) => reject(err));
          ch.once('close', () => reject(new Error('channel closed')));
        }).then(
          () => 'accepted',
          (err: unknown) => String(err),
        );
      };
      return { outcome, close: () => connection.close() };
    };
    // Every service answering requests or retrying used to publish to the default exchange,
    // which reaches any queue by name (a worker could have forged a job.run into another's).
    for (const service of SERVICE_NAMES) {
      const { outcome, close } = await attempts(service);
      try {
        assert.match(await outcome('', QUEUES.syncJobs), /ACCESS_REFUSED|403/, service);
      } finally {
        await close();
      }
    }
    const collector = await attempts('collector');
    try {
      const { outcome } = collector;
      const call = (op: string) => outcome(EXCHANGES.calls, `platform-registry.${op}`);
      assert.match(await call('platform.create'), /ACCESS_REFUSED|403/, 'not its operation');
      // It publishes fan-out children to psc.work, and nothing else there: no job.run.
      assert.match(await outcome(EXCHANGES.jobs, 'sync'), /ACCESS_REFUSED|403/, 'a sync job');
      assert.match(
        await outcome(EXCHANGES.retry, QUEUES.syncJobs),
        /ACCESS_REFUSED|403/,
        "the sync-worker's queue",
      );
      // Its own: a call it makes, and (unrouted, so nothing arrives) one of its delay queues.
      assert.equal(await call('platform.get-with-secrets'), 'accepted');
      assert.equal(
        await outcome(EXCHANGES.retry, QUEUES.retry(QUEUES.collectorJobs, 1)),
        'accepted',
      );
    } finally {
      await collector.close();
    }
    // The gateway, facing clients, may not even ask for the sealed credentials.
    const gateway = await attempts('gateway');
    try {
      assert.match(
        await gateway.outcome(EXCHANGES.calls, 'platform-registry.platform.get-with-secrets'),
        /ACCESS_REFUSED|403/,
      );
    } finally {
      await gateway.close();
    }
    const job = await syncOnce(platformId);
    assert.equal(job.status, 'succeeded', JSON.stringify(job));
  });

  it("when any service's login tries to delete or redeclare a shared exchange or the queue of unrouted events, then the broker refuses it, and every service still started, having found them made by the provisioning", async () => {
    for (const service of SERVICE_NAMES) {
      const connection = await amqp.connect(brokerLogin(service));
      try {
        const attempt = async (work: (ch: amqp.Channel) => Promise<unknown>) => {
          const ch = await connection.createChannel();
          ch.on('error', () => {});
          return work(ch).then(
            () => 'accepted',
            (err: unknown) => String(err),
          );
        };
        for (const exchange of Object.values(EXCHANGES)) {
          assert.match(
            await attempt((ch) => ch.deleteExchange(exchange)),
            /ACCESS_REFUSED|403/,
            `${service}: delete ${exchange}`,
          );
        }
        assert.match(
          await attempt((ch) => ch.assertExchange(EXCHANGES.events, 'topic', { durable: true })),
          /ACCESS_REFUSED|403/,
          `${service}: declare ${EXCHANGES.events}`,
        );
        assert.match(
          await attempt((ch) => ch.deleteQueue(QUEUES.unroutedEvents)),
          /ACCESS_REFUSED|403/,
          service,
        );
        // Looking is allowed: that is how the services find them.
        assert.equal(
          await attempt((ch) => ch.checkExchange(EXCHANGES.events)),
          'accepted',
          service,
        );
      } finally {
        await connection.close();
      }
    }
    const job = await syncOnce(platformId);
    assert.equal(job.status, 'succeeded', JSON.stringify(job));
  });

  it("when the gateway's login reads the platforms' sealed credentials or the job ledger, or a worker's login rewrites a job, then PostgreSQL refuses it, while each reads its own schema", async () => {
    const as = async <T>(service: ServiceName, work: (c: pg.Client) => Promise<T>) => {
      const client = new pg.Client({ connectionString: dbLogin(service) });
      await client.connect();
      try {
        return await work(client);
      } finally {
        await client.end();
      }
    };
    const refused = (service: ServiceName, sql: string) =>
      as(service, (c) => c.query(sql)).then(
        () => 'accepted',
        (err: { code?: string; message: string }) => `${err.code}: ${err.message}`,
      );
    assert.match(await refused('gateway', 'select auth_secret from registry.platforms'), /^42501/);
    assert.match(await refused('gateway', 'select count(*) from scheduler.jobs'), /^42501/);
    assert.match(
      await refused('sync-worker', `update scheduler.jobs set status = 'succeeded'`),
      /^42501/,
    );
    assert.match(await refused('collector', 'create schema elsewhere'), /^42501/);
    // Their own schemas: the same logins read them (the check can tell them apart).
    assert.equal(await refused('gateway', 'select count(*) from gateway.api_keys'), 'accepted');
    const jobs = await as('scheduler', (c) =>
      c.query('select count(*)::int as n from scheduler.jobs'),
    );
    assert.ok((jobs.rows[0] as { n: number }).n >= 3);
  });

  it("when the gateway reads queue depths with its own login, then the management API answers for psc's vhost, while that login cannot administer the broker and the other services' logins cannot use the management API", async () => {
    const queues = await system.api<{
      items: { name: string; exists: boolean; consumers: number; unacked: number | null }[];
    }>('/api/v1/monitoring/queues');
    assert.equal(queues.status, 200, JSON.stringify(queues.body));
    const jobs = queues.body.items.find((q) => q.name === QUEUES.syncJobs);
    assert.equal(jobs?.exists, true, JSON.stringify(queues.body));
    assert.ok((jobs?.consumers ?? 0) >= 1);
    // Only the management API counts unacked messages (the fallback's passive declares cannot).
    assert.equal(typeof jobs?.unacked, 'number', 'read through the management API');

    const ask = (service: ServiceName, path: string) => {
      const login = withLogin(managementUrl, userOf(service).user, userOf(service).password);
      return createManagementApi(login, { timeoutMs: 5_000 })
        .get(path)
        .then(
          () => ({ status: 200 }),
          (err: unknown) => {
            if (err instanceof ManagementApiError) return { status: err.status };
            throw err;
          },
        );
    };
    const vhostQueues = `/api/queues/${encodeURIComponent(system.env.vhost)}`;
    assert.equal((await ask('gateway', vhostQueues)).status, 200);
    for (const path of ['/api/users', '/api/definitions']) {
      const res = await ask('gateway', path);
      assert.ok([401, 403].includes(res.status), `${path}: ${res.status}`);
    }
    const res = await ask('scheduler', vhostQueues);
    assert.ok([401, 403].includes(res.status), `scheduler: ${res.status}`);
  });

  it('then no service was refused anything by the broker or the database all along', () => {
    for (const [name, service] of system.services) {
      const refused = service.process
        .lines()
        .filter((l) => l.includes('ACCESS_REFUSED') || l.includes('permission denied'));
      assert.deepEqual(refused, [], name);
    }
  });
});
