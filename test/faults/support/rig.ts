import assert from 'node:assert/strict';
import pg from 'pg';
import { createManagementApi, ManagementApiError, managementPath } from '@psc/messaging';
import {
  freePort,
  spawnService,
  startFakePlatform,
  startInfra,
  startTcpProxy,
  waitFor,
  waitUntilReady,
  type FakePlatform,
  type Item,
  type ServiceProcess,
  type TcpProxy,
} from '@psc/testing';
import { launchOf } from '../../support/launch.ts';
import {
  startSystem,
  type RunningService,
  type ServiceName,
  type System,
} from '../../support/system.ts';

/**
 * One fault test's own world: the five services on a fresh vhost and database, a fake platform,
 * and (when asked) a TCP proxy of its own in front of PostgreSQL for chosen services — the shared
 * servers are never stopped. Ends with exact checks: nothing lost, nothing twice, nothing stuck.
 */
export interface Rig {
  system: System;
  fake: FakePlatform;
  /** Rows of a query on the test's own database (name the schemas). */
  q<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** The proxy in front of PostgreSQL for the services in `dbViaProxy`. */
  pgProxy: TcpProxy;
  /** The proxy in front of RabbitMQ for the services in `amqpViaProxy`. */
  amqpProxy: TcpProxy;
  /** Management API of the shared broker, for this test's vhost only. */
  rabbit: Rabbit;
  /** A platform with `resources` sync resources of `itemsPer` items each (one page of `pageSize`). */
  register(options?: {
    resources?: number;
    itemsPer?: number;
    pageSize?: number;
    rateLimit?: { rps: number; concurrency: number };
    timeoutMs?: number;
    schedule?: Record<string, unknown>;
  }): Promise<Platform>;
  /** Asks for `rounds` sync runs of every resource of the platform; returns the job ids. */
  runAll(platform: Platform, rounds: number): Promise<string[]>;
  /** Waits until every job is final (`timeoutMs`), returns how long that took. */
  allFinal(ids: readonly string[], timeoutMs: number): Promise<number>;
  /**
   * The exact end state: every job succeeded with one run row of the worker, each resource's
   * records are exactly its items, and each item was inserted once over all its jobs.
   */
  assertExactlyOnce(platform: Platform, ids: readonly string[]): Promise<void>;
  /** Starts (or restarts) one of the five services with the rig's environment plus `env`. */
  start(name: ServiceName, env?: Record<string, string>): Promise<RunningService>;
  /**
   * Like `start`, without waiting: the service as spawned (its `/ready` may answer 503 a long
   * while), and `ready`, which settles once it is ready (stopped with the rig either way).
   */
  launch(
    name: ServiceName,
    env?: Record<string, string>,
  ): Promise<RunningService & { ready: Promise<RunningService> }>;
  /** The process last spawned for a service, even before it is ready. */
  latest(name: ServiceName): ServiceProcess;
  /** Starts one more sync-worker replica (stopped with the rig); resolves once it is ready. */
  startWorker(id: string, env?: Record<string, string>): Promise<Worker>;
  /** Starts one more replica of a service (stopped with the rig). */
  startReplica(service: ServiceName, id: string, env?: Record<string, string>): Promise<Worker>;
  stop(): Promise<void>;
}

export interface Worker {
  process: ServiceProcess;
  url: string;
}

export interface Platform {
  id: string;
  resources: string[];
  items: Map<string, Item[]>;
}

interface Rabbit {
  /** The vhost's connections, less the ones this rig closed. */
  connections(): Promise<string[]>;
  /** The name of the connection a service opened (its `connection_name`), if it has one. */
  connectionOf(service: string): Promise<string | undefined>;
  /** Closes every connection `connections()` lists; how many it closed. */
  closeConnections(): Promise<number>;
  deleteQueue(queue: string): Promise<void>;
  consumers(queue: string): Promise<number>;
  /**
   * Sets a policy on queues of this vhost whose names match `pattern`, and waits until every
   * queue `waitFor` names has it in effect.
   */
  setPolicy(
    name: string,
    pattern: string,
    definition: Record<string, unknown>,
    waitFor: readonly string[],
  ): Promise<void>;
  clearPolicy(name: string): Promise<void>;
  /** The vhost's connection limit (`max-connections`); `undefined` lifts it. */
  limitConnections(max: number | undefined): Promise<void>;
}

const FINAL = ['succeeded', 'failed', 'dead', 'cancelled'];
const START_TIMEOUT_MS = 90_000;

/** Short retry tiers and a short reconciliation, so faults recover in seconds, not minutes. */
const FAST_ENV: Record<string, string> = {
  PSC_RETRY_TIERS_MS: '200,500,1000,2000',
  PSC_MAX_ATTEMPTS: '6',
  PSC_RECONCILE_EVERY_MS: '1000',
  PSC_RECONCILE_AFTER_MS: '3000',
  PSC_SCHEDULER_TICK_MS: '250',
  LOG_LEVEL: 'warn',
};

function rabbitOf(managementUrl: string, vhost: string): Rabbit {
  const api = createManagementApi(managementUrl);
  const listConnections = () =>
    api.get<{ name: string; client_properties?: { connection_name?: string } }[]>(
      managementPath('vhosts', vhost, 'connections'),
    );
  // The management API lists a closed connection until its stats are collected, so a listing
  // taken just after a close can still hold it: the ones this rig closed never count again.
  const closed = new Set<string>();
  const connections = async () =>
    (await listConnections()).map((c) => c.name).filter((name) => !closed.has(name));
  return {
    connections,
    async connectionOf(service) {
      const list = await listConnections();
      return list.find((c) => c.client_properties?.connection_name === service)?.name;
    },
    async closeConnections() {
      const names = await connections();
      for (const name of names) closed.add(name);
      await Promise.all(
        names.map((n) => api.delete(managementPath('connections', n), { missingOk: true })),
      );
      return names.length;
    },
    async deleteQueue(queue) {
      await api.delete(managementPath('queues', vhost, queue), { missingOk: true });
    },
    async consumers(queue) {
      const q = await api
        .get<{ consumers?: number }>(managementPath('queues', vhost, queue))
        .catch((err: unknown) => {
          // A queue that is gone has no consumers.
          if (err instanceof ManagementApiError && err.status === 404) return undefined;
          throw err;
        });
      return q?.consumers ?? 0;
    },
    async setPolicy(name, pattern, definition, queues) {
      await api.put(managementPath('policies', vhost, name), {
        pattern,
        definition,
        'apply-to': 'queues',
        priority: 10,
      });
      await waitFor(
        async () => {
          for (const queue of queues) {
            const q = await api.get<{ policy?: string }>(managementPath('queues', vhost, queue));
            if (q.policy !== name) return false;
          }
          return true;
        },
        { timeoutMs: 20_000, intervalMs: 200, message: `policy ${name} in effect` },
      );
    },
    async clearPolicy(name) {
      await api.delete(managementPath('policies', vhost, name), { missingOk: true });
    },
    async limitConnections(max) {
      const path = managementPath('vhost-limits', vhost, 'max-connections');
      if (max === undefined) await api.delete(path, { missingOk: true });
      else await api.put(path, { value: max });
    },
  };
}

export async function startRig(options: {
  name: string;
  env?: Record<string, string>;
  /** Services whose DATABASE_URL goes through the rig's own PostgreSQL proxy. */
  dbViaProxy?: readonly ServiceName[];
  /** Services whose AMQP_URL goes through the rig's own RabbitMQ proxy. */
  amqpViaProxy?: readonly ServiceName[];
  /** Extra environment per service. */
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
}): Promise<Rig> {
  const infra = await startInfra();
  const pgTarget = new URL(infra.databaseUrl);
  const pgProxy = await startTcpProxy({
    host: pgTarget.hostname,
    port: Number(pgTarget.port || 5432),
  });
  const amqpTarget = new URL(infra.amqpUrl);
  const amqpProxy = await startTcpProxy({
    host: amqpTarget.hostname,
    port: Number(amqpTarget.port || 5672),
  });
  const amqpViaProxy = new Set(options.amqpViaProxy ?? []);
  const fake = await startFakePlatform();
  const viaProxy = new Set(options.dbViaProxy ?? []);
  const system = await startSystem({
    name: options.name,
    env: { ...FAST_ENV, ...options.env },
    services: ['platform-registry'],
  });
  const envOf = (name: ServiceName) => ({
    ...(viaProxy.has(name) ? { DATABASE_URL: pgProxy.url(system.env.databaseUrl) } : {}),
    ...(amqpViaProxy.has(name) ? { AMQP_URL: amqpProxy.url(system.env.amqpUrl) } : {}),
    ...options.serviceEnv?.[name],
  });
  const latest = new Map<ServiceName, ServiceProcess>();
  const baseEnv = {
    ...FAST_ENV,
    ...options.env,
    AMQP_URL: system.env.amqpUrl,
    DATABASE_URL: system.env.databaseUrl,
    PSC_EGRESS_ALLOW: '127.0.0.1,localhost',
  };
  // Like system.start, with a longer wait: on this shared 2-core machine a service's start
  // alone can take 20 s, and the fault, not the start, is what these tests measure.
  const launch = (name: ServiceName, extraEnv: Record<string, string>, port: number) => {
    const child = spawnService({
      name,
      ...launchOf(name),
      env: {
        ...system.secretsFor(name),
        ...baseEnv,
        HTTP_PORT: String(port),
        OTEL_SERVICE_NAME: name,
        ...envOf(name),
        ...extraEnv,
      },
    });
    latest.set(name, child);
    const running = { process: child, port, url: `http://127.0.0.1:${port}` };
    const ready = waitUntilReady(child, running.url, { timeoutMs: START_TIMEOUT_MS }).then(
      () => {
        system.services.set(name, running);
        return running;
      },
      (err: unknown) => {
        throw new Error(
          `${name} did not start: ${String(err)}\n${child.lines().slice(-10).join('\n')}`,
        );
      },
    );
    return { ...running, ready };
  };
  const start = async (name: ServiceName, extraEnv: Record<string, string> = {}) =>
    launch(name, extraEnv, await freePort()).ready;
  try {
    // The scheduler has the most migrations: alone first, the rest together.
    await start('scheduler');
    await Promise.all((['sync-worker', 'collector', 'gateway'] as const).map((n) => start(n)));
  } catch (err) {
    await system.stop();
    await pgProxy.stop();
    await amqpProxy.stop();
    await fake.stop();
    throw err;
  }
  const pool = new pg.Pool({ connectionString: system.env.databaseUrl, max: 4 });
  // The backend tests end this pool's idle connections too: the next query opens a new one.
  pool.on('error', () => undefined);
  const q = async <T>(sql: string, params: unknown[] = []): Promise<T[]> => {
    // A pooled connection ended meanwhile (57P01) fails one query each: try the next one.
    for (let tries = 1; ; tries += 1) {
      try {
        return (await pool.query(sql, params)).rows as T[];
      } catch (err) {
        if ((err as { code?: string }).code !== '57P01' || tries > 5) throw err;
      }
    }
  };
  const rabbit = rabbitOf(infra.managementUrl, system.env.vhost);
  let platforms = 0;
  const extra: ServiceProcess[] = [];

  async function startReplica(
    service: ServiceName,
    id: string,
    env: Record<string, string>,
  ): Promise<Worker> {
    const port = await freePort();
    const child = spawnService({
      name: `${service}-${id}`,
      ...launchOf(service),
      env: {
        ...system.secretsFor(service),
        ...baseEnv,
        HTTP_PORT: String(port),
        OTEL_SERVICE_NAME: service,
        ...envOf(service),
        PSC_WORKER_ID: id,
        PSC_SCHEDULER_REPLICA_ID: id,
        ...env,
      },
    });
    extra.push(child);
    const url = `http://127.0.0.1:${port}`;
    await readyAgain(url, START_TIMEOUT_MS);
    return { process: child, url };
  }

  return {
    system,
    fake,
    q,
    pgProxy,
    amqpProxy,
    rabbit,
    async register(o = {}) {
      const n = o.resources ?? 4;
      const itemsPer = o.itemsPer ?? 20;
      platforms += 1;
      const items = new Map<string, Item[]>();
      const resources = Array.from({ length: n }, (_, i) => `r${platforms}x${i}`);
      for (const r of resources) {
        const list = Array.from({ length: itemsPer }, (_, k) => ({ code: `${r}-${k}`, qty: k }));
        items.set(r, list);
        fake.setCollection(`/${r}`, list);
      }
      const created = await system.api<{ id: string }>('/api/v1/platforms', {
        body: {
          name: `faults-${platforms}-${Math.random().toString(36).slice(2, 8)}`,
          baseUrl: fake.url,
          ...(o.rateLimit ? { rateLimit: o.rateLimit } : {}),
          ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
          ...(o.schedule ? { schedule: o.schedule } : {}),
          resources: resources.map((name) => ({
            name,
            request: { path: `/${name}` },
            pagination: { type: 'page', pageSize: o.pageSize ?? 100 },
            itemsPath: 'data',
            key: 'code',
            mapping: { code: 'code', qty: 'qty' },
          })),
        },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      return { id: created.body.id, resources, items };
    },
    async runAll(platform, rounds) {
      const ids: string[] = [];
      for (let i = 0; i < rounds; i += 1) {
        const res = await system.api<{ jobs: { id: string }[] }>('/api/v1/run/sync', {
          body: { platformId: platform.id },
        });
        assert.equal(res.status, 202, JSON.stringify(res.body));
        ids.push(...res.body.jobs.map((j) => j.id));
      }
      return ids;
    },
    async allFinal(ids, timeoutMs) {
      const started = Date.now();
      await waitFor(
        async () => {
          const rows = await q<{ n: string }>(
            'select count(*) as n from scheduler.jobs where id = any($1) and status = any($2)',
            [ids, FINAL],
          );
          const done = Number(rows[0]?.n);
          if (done === ids.length) return true;
          const open = await q<{ status: string; n: string }>(
            `select status, count(*) as n from scheduler.jobs
              where id = any($1) and not status = any($2) group by status`,
            [ids, FINAL],
          );
          throw new Error(
            `${ids.length - done} of ${ids.length} jobs not final: ${open.map((o) => `${o.n} ${o.status}`).join(', ')}`,
          );
        },
        { timeoutMs, intervalMs: 250, message: 'every job final' },
      );
      return Date.now() - started;
    },
    async assertExactlyOnce(platform, ids) {
      const jobs = await q<{ id: string; status: string; resource: string; error: unknown }>(
        'select id, status, resource, error from scheduler.jobs where id = any($1)',
        [ids],
      );
      assert.equal(jobs.length, ids.length, 'every job asked for is in the ledger (0 lost)');
      const notSucceeded = jobs.filter((j) => j.status !== 'succeeded');
      assert.deepEqual(
        notSucceeded.map((j) => [j.status, JSON.stringify(j.error)]),
        [],
        'every job succeeded',
      );
      const runs = await q<{ job_id: string; status: string; stats: { inserted: number } }>(
        'select job_id, status, stats from sync.job_runs where job_id = any($1)',
        [ids],
      );
      assert.equal(runs.length, ids.length, 'one run row per job');
      assert.ok(runs.every((r) => r.status === 'succeeded'));
      const resourceOf = new Map(jobs.map((j) => [j.id, j.resource]));
      for (const r of platform.resources) {
        const records = await q<{ key: string; data: { qty: number } }>(
          `select key, data from sync.records
            where platform_id = $1 and resource = $2 and deleted_at is null`,
          [platform.id, r],
        );
        const expected = (platform.items.get(r) ?? [])
          .map((i) => [String(i.code), i.qty])
          .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
        assert.deepEqual(
          records
            .map((x) => [x.key, x.data.qty])
            .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
          expected,
          `records of ${r} are exactly its items`,
        );
        const inserted = runs
          .filter((x) => resourceOf.get(x.job_id) === r)
          .reduce((sum, x) => sum + x.stats.inserted, 0);
        assert.equal(inserted, expected.length, `each item of ${r} inserted exactly once`);
      }
    },
    start,
    async launch(name, env = {}) {
      const launched = launch(name, env, await freePort());
      extra.push(launched.process);
      // Awaited by the caller; a test that fails first must not end on its rejection.
      launched.ready.catch(() => undefined);
      return launched;
    },
    latest: (name) => latest.get(name) ?? system.services.get(name)!.process,
    startWorker: (id, env = {}) => startReplica('sync-worker', id, env),
    startReplica: (service, id, env = {}) => startReplica(service, id, env),
    async stop() {
      for (const p of [...extra, ...[...system.services.values()].map((s) => s.process)])
        p.kill('SIGCONT');
      await Promise.all(extra.map((p) => p.stop()));
      await system.stop();
      await pool.end();
      await pgProxy.stop();
      await amqpProxy.stop();
      await fake.stop();
    },
  };
}

/** Ends every PostgreSQL backend of this test's database except the caller's own. */
export async function terminateBackends(rig: Rig): Promise<number> {
  const rows = await rig.q<{ n: string }>(
    `select count(*) filter (where pg_terminate_backend(pid)) as n from pg_stat_activity
      where datname = $1 and pid <> pg_backend_pid()`,
    [rig.system.env.database],
  );
  return Number(rows[0]?.n ?? 0);
}

/**
 * Polls a service's `/ready` from `since` on (start it right before the fault) until its
 * consumers check has failed with a 503 and then passed again. Resolves with how long they were
 * down at most: from the last check that still passed (asked before the first 503) to the
 * answer of the first one that passed again. Measured from the broker's side, as a fault that
 * takes a while to start (a `rabbitmqctl` call on a busy machine) does not count.
 */
export function consumersDown(
  url: string,
  since: number,
  timeoutMs: number,
): Promise<{ downMs: number }> {
  let lastUpAt = since;
  let downAt: number | undefined;
  return waitFor(
    async () => {
      const askedAt = Date.now();
      const res = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(2_000) });
      const body = (await res.json()) as { checks?: Record<string, string> };
      const up = body.checks?.consumers === 'ok';
      if (downAt === undefined) {
        if (up) lastUpAt = askedAt;
        else if (res.status === 503) downAt = askedAt;
        return undefined;
      }
      return up ? { downMs: Date.now() - lastUpAt } : undefined;
    },
    { timeoutMs, intervalMs: 50, message: `${url}/ready 503 (consumers down) and then up again` },
  );
}

/** Polls a service's `/ready` until it answers 200; returns how long that took. */
export async function readyAgain(url: string, timeoutMs: number): Promise<number> {
  const started = Date.now();
  await waitFor(async () => (await fetch(`${url}/ready`).catch(() => undefined))?.ok === true, {
    timeoutMs,
    intervalMs: 100,
    message: `${url} ready again`,
  });
  return Date.now() - started;
}
