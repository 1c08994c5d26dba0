import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { freePort, startInfra } from '../src/index.ts';

function withEnv(t: TestContext, values: Record<string, string>): void {
  const saved = Object.fromEntries(Object.keys(values).map((key) => [key, process.env[key]]));
  Object.assign(process.env, values);
  t.after(() => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });
}

// Each test file runs in its own process, so stopping the cached infra here affects no other file.
describe('startInfra', { timeout: 300_000 }, () => {
  it('when called twice, then returns the same reachable infra', async () => {
    const first = await startInfra();
    const second = await startInfra();

    assert.equal(second, first);
    assert.ok(['containers', 'external'].includes(first.mode));
    assert.match(first.amqpUrl, /^amqp:\/\//);
    assert.match(first.databaseUrl, /^postgres(ql)?:\/\//);
    assert.match(first.managementUrl, /^http:\/\//);
  });

  it('when stopped, then the next call builds a new infra', async () => {
    const first = await startInfra();
    await first.stop();

    const second = await startInfra();

    assert.notEqual(second, first);
  });

  it('when external servers are unreachable, then fails loudly naming each one', async (t) => {
    await (await startInfra()).stop();
    const [amqpPort, mgmtPort, pgPort] = [await freePort(), await freePort(), await freePort()];
    withEnv(t, {
      TEST_INFRA: 'external',
      AMQP_URL: `amqp://guest:secret@127.0.0.1:${amqpPort}`,
      RABBITMQ_MANAGEMENT_URL: `http://guest:guest@127.0.0.1:${mgmtPort}`,
      DATABASE_URL: `postgres://postgres@127.0.0.1:${pgPort}/test`,
    });

    const error = await startInfra().then(
      () => assert.fail('startInfra resolved'),
      (err: unknown) => err as Error,
    );

    assert.match(error.message, /psc test infra is unreachable; TEST_INFRA=external/);
    assert.match(
      error.message,
      new RegExp(`RabbitMQ AMQP at amqp://guest:\\*\\*\\*@127.0.0.1:${amqpPort}`),
    );
    assert.match(error.message, new RegExp(`management API at .*:${mgmtPort}`));
    assert.match(error.message, new RegExp(`PostgreSQL at .*:${pgPort}`));
    assert.doesNotMatch(error.message, /secret/);
  });

  it('when TEST_INFRA has an unknown value, then says which values are allowed', async (t) => {
    await (await startInfra()).stop();
    withEnv(t, { TEST_INFRA: 'docker' });

    await assert.rejects(
      startInfra(),
      /TEST_INFRA must be containers, external or auto, got "docker"/,
    );
  });
});
