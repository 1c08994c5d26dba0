import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { inspect } from 'node:util';
import { describe, it, type TestContext } from 'node:test';
import { connect } from 'amqplib';
import { createIsolatedEnv, freePort, startInfra } from '@psc/testing';
import { createManagementApi, ManagementApiError, managementPath } from '@psc/messaging';

/** The error a promise rejects with, or a failed assertion when it resolves. */
const failure = (work: Promise<unknown>): Promise<unknown> =>
  work.then(
    () => assert.fail('resolved'),
    (err: unknown) => err,
  );

async function isolatedVhost(t: TestContext) {
  const env = await createIsolatedEnv({ name: 'management-api' });
  t.after(() => env.cleanup());
  return env;
}

describe('management API client', { timeout: 60_000 }, () => {
  it('when the password is wrong, then it fails with a 401 error that names the method, path and status but not the password', async () => {
    const url = new URL((await startInfra()).managementUrl);
    const password = `wrong-${randomUUID()}`;
    url.password = password;

    const err = await failure(createManagementApi(url.toString()).get('/api/whoami'));

    assert.ok(err instanceof ManagementApiError, inspect(err));
    assert.equal(err.status, 401);
    assert.equal(err.message, 'RabbitMQ management GET /api/whoami answered 401');
    assert.ok(!inspect(err).includes(password), 'the password is nowhere in the error');
  });

  it('when the vhost does not exist, then its queues are a 404 error', async () => {
    const api = createManagementApi((await startInfra()).managementUrl);
    const path = managementPath('queues', `psc-no-such-vhost-${randomUUID()}`);

    const err = await failure(api.get(path));

    assert.ok(err instanceof ManagementApiError, inspect(err));
    assert.equal(err.status, 404);
    assert.equal(err.method, 'GET');
    assert.equal(err.path, path);
  });

  it("when a test's vhost has a queue with / and a space in its name, then the vhost's queues and the queue itself are read", async (t) => {
    const env = await isolatedVhost(t);
    const connection = await connect(env.amqpUrl);
    try {
      const channel = await connection.createChannel();
      await channel.assertQueue('work/a b', { durable: false });
    } finally {
      await connection.close();
    }
    const api = createManagementApi((await startInfra()).managementUrl);

    const queues = await api.get<{ name: string }[]>(managementPath('queues', env.vhost));
    const queue = await api.get<{ name: string; vhost: string }>(
      managementPath('queues', env.vhost, 'work/a b'),
    );

    assert.deepEqual(
      queues.map((q) => q.name),
      ['work/a b'],
    );
    assert.deepEqual(
      { name: queue.name, vhost: queue.vhost },
      { name: 'work/a b', vhost: env.vhost },
    );
  });

  it('when a queue is deleted twice, then the second is no error with missingOk and a 404 without', async (t) => {
    const env = await isolatedVhost(t);
    const api = createManagementApi((await startInfra()).managementUrl);
    const path = managementPath('queues', env.vhost, 'gone');
    await api.put(path, { durable: false, auto_delete: false });

    await api.delete(path);
    await api.delete(path, { missingOk: true });
    const err = await failure(api.delete(path));

    assert.ok(err instanceof ManagementApiError && err.status === 404, inspect(err));
  });

  it('when the API does not answer, then the request is aborted after its timeout', async (t) => {
    // Accepts the request and never answers: what a hung management plugin looks like.
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      silent.closeAllConnections();
      silent.close();
    });
    const { port } = silent.address() as { port: number };
    const api = createManagementApi(`http://guest:guest@127.0.0.1:${port}`, { timeoutMs: 200 });
    const started = Date.now();

    const err = await failure(api.get('/api/overview'));

    assert.equal(
      (err as Error).message,
      `RabbitMQ management API at http://127.0.0.1:${port} did not answer GET /api/overview: no answer within 200 ms`,
    );
    assert.ok(Date.now() - started < 5_000, `aborted after ${Date.now() - started} ms`);
  });

  it('when nothing listens at its address, then the error says where and why, without the password', async () => {
    const port = await freePort();
    const password = `secret-${randomUUID()}`;
    const api = createManagementApi(`http://admin:${password}@127.0.0.1:${port}`);

    const err = await failure(api.put('/api/users/x', {}));

    assert.equal(
      (err as Error).message,
      `RabbitMQ management API at http://127.0.0.1:${port} did not answer PUT /api/users/x: ECONNREFUSED`,
    );
    assert.ok(!inspect(err).includes(password), 'the password is nowhere in the error');
  });
});
