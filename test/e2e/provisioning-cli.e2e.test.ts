import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { freePort } from '@psc/testing';
import { runScript } from '../support/scripts.ts';

/** A provisioning script (`npm run db-roles` / `broker-users`) with only `env` of psc's config. */
const script = (name: string, env: Record<string, string>) => runScript(name, [], env);

describe('provisioning logins when the server is not there: npm run db-roles and broker-users', () => {
  it('when PostgreSQL does not answer, then db-roles says where in one line, without the password, and exits 1', async () => {
    const port = await freePort();
    const result = script('db-roles', {
      DATABASE_URL: `postgres://admin:hunter2@127.0.0.1:${port}/psc`,
    });
    assert.deepEqual(result, {
      code: 1,
      stdout: '',
      stderr: `db-roles failed: database connection refused at 127.0.0.1:${port} (ECONNREFUSED)\n`,
    });
  });

  it("when RabbitMQ's management API does not answer, then broker-users says where in one line, without the password, and exits 1", async () => {
    const port = await freePort();
    const result = script('broker-users', {
      AMQP_URL: 'amqp://127.0.0.1:5672/psc',
      RABBITMQ_MANAGEMENT_URL: `http://admin:hunter2@127.0.0.1:${port}`,
    });
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.match(
      result.stderr,
      new RegExp(
        `^broker-users failed: RabbitMQ management API at http://127\\.0\\.0\\.1:${port} did not answer PUT /api/\\S+: ECONNREFUSED\\n$`,
      ),
    );
    assert.doesNotMatch(result.stderr, /hunter2/);
  });
});
