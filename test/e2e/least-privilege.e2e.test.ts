import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import amqp from 'amqplib';
import pg from 'pg';
import { EXCHANGES, QUEUES, SERVICE_SCHEMAS, brokerUsers, type ServiceName } from '@psc/contracts';
import { provisionServiceRoles, removeServiceRoles, type ServiceRole } from '@psc/db';
import { provisionBrokerUsers, removeBrokerUsers, type BrokerUser } from '@psc/messaging';
import {
  boothSample,
  startFakePlatform,
  startInfra,
  waitFor,
  type FakePlatform,
} from '@psc/testing';
import { boothPlatform, raceCardsResource, type JobView } from '../support/platforms.ts';
import { SERVICE_NAMES, startSystem, type System } from '../support/system.ts';

const DATE = '2024-07-01';
const RACES = 3;

/** One of the system's URLs with another login. */
function loginAs(serverUrl: string, user: string, password: string): string {
  const url = new URL(serverUrl);
  url.username = encodeURIComponent(user);
  url.password = encodeURIComponent(password);
  return url.toString();
}

const secret = () => randomBytes(18).toString('base64url');

describe('least privilege: each service under its own RabbitMQ user and PostgreSQL login', () => {
  let system: System;
  let fake: FakePlatform;
  let managementUrl: string;
  let adminDbUrl: string;
  let users: BrokerUser[];
  let roles: (ServiceRole & { service: ServiceName })[];
  const userOf = (service: ServiceName) => users.find((u) => u.service === service)!;
  const roleOf = (service: ServiceName) => roles.find((r) => r.service === service)!;
  const brokerLogin = (service: ServiceName) =>
    loginAs(system.env.amqpUrl, userOf(service).user, userOf(service).password);
  const dbLogin = (service: ServiceName) =>
    loginAs(system.env.databaseUrl, roleOf(service).role, roleOf(service).password);

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
    // Users and roles are global to their server: the vhost's and database's names keep them
    // apart from other tests'.
    users = brokerUsers(`${system.env.vhost}.`).map((u) => ({ ...u, password: secret() }));
    await provisionBrokerUsers({ managementUrl, vhost: system.env.vhost, users });
    roles = SERVICE_NAMES.map((service) => ({
      service,
      role: `${system.env.database}_${SERVICE_SCHEMAS[service]}`,
      schema: SERVICE_SCHEMAS[service],
      password: secret(),
    }));
    await provisionServiceRoles(system.env.databaseUrl, roles);
    for (const name of SERVICE_NAMES) {
      await system.start(name, { AMQP_URL: brokerLogin(name), DATABASE_URL: dbLogin(name) });
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
        roles.map((r) => r.role),
      );
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

    // A fan-out collection: the collector publishes its children to psc.jobs and consumes them.
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

  it('then no service was refused anything by the broker or the database all along', () => {
    for (const [name, service] of system.services) {
      const refused = service.process
        .lines()
        .filter((l) => l.includes('ACCESS_REFUSED') || l.includes('permission denied'));
      assert.deepEqual(refused, [], name);
    }
  });
});
