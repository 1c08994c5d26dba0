import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { connect, type Channel } from 'amqplib';
import { createManagementApi, ManagementApiError, managementPath } from '@psc/messaging';
import {
  createIsolatedEnv,
  dropStaleTestResources,
  startInfra,
  waitFor,
  type IsolatedEnv,
} from '../src/index.ts';
import { testResourceNames } from '../src/isolation-names.ts';
import { quoteIdent, withPgClient } from '../src/pg-client.ts';

async function isolatedEnv(t: TestContext, name?: string): Promise<IsolatedEnv> {
  const env = await createIsolatedEnv(name === undefined ? {} : { name });
  t.after(() => env.cleanup());
  return env;
}

/** The status of a GET on the management API: 200, or the one its error carries. */
async function getStatus(path: string): Promise<number> {
  const infra = await startInfra();
  return createManagementApi(infra.managementUrl)
    .get(path)
    .then(
      () => 200,
      (err: unknown) => {
        if (err instanceof ManagementApiError) return err.status;
        throw err;
      },
    );
}

const vhostStatus = (vhost: string): Promise<number> => getStatus(managementPath('vhosts', vhost));

async function databaseExists(database: string): Promise<boolean> {
  const infra = await startInfra();
  return withPgClient(infra.databaseUrl, async (client) => {
    const { rows } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    return rows.length === 1;
  });
}

async function withChannel<R>(url: string, fn: (channel: Channel) => Promise<R>): Promise<R> {
  const connection = await connect(url);
  connection.on('error', () => {});
  try {
    const channel = await connection.createChannel();
    // A refused declaration closes the channel with an 'error' event; the promise carries it.
    channel.on('error', () => {});
    return await fn(channel);
  } finally {
    await connection.close().catch(() => {});
  }
}

describe('createIsolatedEnv', { timeout: 300_000 }, () => {
  it('when created, then its vhost accepts AMQP connections and queue declarations', async (t) => {
    const env = await isolatedEnv(t);

    const queue = await withChannel(env.amqpUrl, (channel) => channel.assertQueue('work'));

    assert.equal(queue.queue, 'work');
    assert.match(env.vhost, /^psc-test-[0-9a-z]+-[0-9a-f]{8}$/);
    assert.equal(new URL(env.amqpUrl).pathname, `/${encodeURIComponent(env.vhost)}`);
    const listed = await getStatus(managementPath('queues', env.vhost, 'work'));
    assert.equal(listed, 200, 'the queue lives in the isolated vhost');
  });

  it('when two envs exist, then a queue in one is invisible in the other', async (t) => {
    const [first, second] = [await isolatedEnv(t), await isolatedEnv(t)];
    await withChannel(first.amqpUrl, (channel) => channel.assertQueue('only-here'));

    const lookup = withChannel(second.amqpUrl, (channel) => channel.checkQueue('only-here'));

    await assert.rejects(lookup, /NOT_FOUND/);
    assert.notEqual(first.database, second.database);
  });

  it('when created, then its database is fresh and usable', async (t) => {
    const env = await isolatedEnv(t);

    const result = await withPgClient(env.databaseUrl, async (client) => {
      await client.query('CREATE TABLE booths (name text PRIMARY KEY)');
      await client.query("INSERT INTO booths VALUES ('Booth 1')");
      const current = await client.query<{ db: string }>('SELECT current_database() AS db');
      const rows = await client.query<{ name: string }>('SELECT name FROM booths');
      return { db: current.rows[0]?.db, names: rows.rows.map((row) => row.name) };
    });

    assert.deepEqual(result, { db: env.database, names: ['Booth 1'] });
    assert.match(env.database, /^psc_test_[0-9a-z]+_[0-9a-f]{8}$/);
  });

  it('when given a name, then it is part of the vhost and database names', async (t) => {
    const env = await isolatedEnv(t, 'Sync Worker: retries!');

    assert.match(env.vhost, /-sync-worker-retries$/);
    assert.match(env.database, /_sync_worker_retries$/);
  });

  it('when cleaned up, then the vhost and database are gone, even with open connections', async (t) => {
    const env = await isolatedEnv(t);
    const connection = await connect(env.amqpUrl);
    connection.on('error', () => {});
    let connectionClosed = false;
    connection.once('close', () => (connectionClosed = true));
    t.after(() => connection.close().catch(() => {}));

    await withPgClient(env.databaseUrl, () => env.cleanup());

    assert.equal(await vhostStatus(env.vhost), 404);
    assert.equal(await databaseExists(env.database), false);
    await waitFor(() => connectionClosed, { message: 'the broker to close the AMQP connection' });
    await env.cleanup();
  });
});

describe('dropStaleTestResources', { timeout: 300_000 }, () => {
  it('when resources are older than the threshold, then only those are removed', async (t) => {
    const fresh = await isolatedEnv(t);
    // 30 min old against a 10 min threshold: stale to this call, but younger than the 1 h after
    // which every test process's own start-up sweep removes leftovers, so a sweep running in a
    // parallel test file cannot take it first and leave this call nothing to report.
    const stale = testResourceNames(Date.now() - 30 * 60 * 1000, 'stale');
    const infra = await startInfra();
    const api = createManagementApi(infra.managementUrl);
    await api.put(managementPath('vhosts', stale.vhost), {});
    await withPgClient(infra.databaseUrl, (client) =>
      client.query(`CREATE DATABASE ${quoteIdent(stale.database)} TEMPLATE template0`),
    );
    // What a least-privilege test makes for its vhost and database, left by a crashed run.
    const staleUser = `${stale.vhost}.gateway`;
    const staleRole = `${stale.database}_gateway`;
    await api.put(managementPath('users', staleUser), {
      password: 'x',
      tags: '',
    });
    await withPgClient(infra.databaseUrl, (client) =>
      client.query(`CREATE ROLE ${quoteIdent(staleRole)}`),
    );
    t.after(async () => {
      await api.delete(managementPath('users', staleUser), { missingOk: true });
      await withPgClient(infra.databaseUrl, (client) =>
        client.query(`DROP ROLE IF EXISTS ${quoteIdent(staleRole)}`),
      );
      await api.delete(managementPath('vhosts', stale.vhost), { missingOk: true });
      await withPgClient(infra.databaseUrl, (client) =>
        client.query(`DROP DATABASE IF EXISTS ${quoteIdent(stale.database)} WITH (FORCE)`),
      );
    });

    const dropped = await dropStaleTestResources(10 * 60 * 1000);

    assert.ok(dropped.vhosts.includes(stale.vhost));
    assert.ok(dropped.databases.includes(stale.database));
    assert.ok(dropped.users.includes(staleUser));
    assert.ok(dropped.roles.includes(staleRole));
    assert.equal(await getStatus(managementPath('users', staleUser)), 404);
    const role = await withPgClient(infra.databaseUrl, (client) =>
      client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [staleRole]),
    );
    assert.equal(role.rowCount, 0);
    assert.equal(await vhostStatus(stale.vhost), 404);
    assert.equal(await databaseExists(stale.database), false);
    assert.equal(await vhostStatus(fresh.vhost), 200);
    assert.equal(await databaseExists(fresh.database), true);
  });
});
