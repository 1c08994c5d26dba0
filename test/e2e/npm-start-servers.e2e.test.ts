import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { freePort, startInfra } from '@psc/testing';
import { runScript } from '../support/scripts.ts';

/**
 * `npm start` (scripts/dev.ts, which it runs once installed) with one server's URL at a port
 * nothing listens on: it must say which server, and stop, not start services that wait in silence.
 */
async function start(env: Record<string, string>) {
  const infra = await startInfra();
  const { code, stdout, stderr } = runScript('dev', [], {
    AMQP_URL: infra.amqpUrl,
    DATABASE_URL: infra.databaseUrl,
    PSC_DEV_PORT_BASE: String(await freePort()),
    DEMO_PLATFORM_PORT: String(await freePort()),
    ...env,
  });
  return { code, out: stdout + stderr };
}

describe('npm start when a server is down', { timeout: 200_000 }, () => {
  it('when PostgreSQL does not answer, then it says so in one line, without the password, and exits 1', async () => {
    const port = await freePort();
    const { code, out } = await start({
      DATABASE_URL: `postgres://psc:hunter2@127.0.0.1:${port}/psc`,
    });
    assert.equal(code, 1, out);
    assert.match(
      out,
      new RegExp(
        `^psc: cannot connect to PostgreSQL at DATABASE_URL \\(connect ECONNREFUSED 127\\.0\\.0\\.1:${port}\\)$`,
        'm',
      ),
    );
    assert.doesNotMatch(out, /hunter2|listening/);
  });

  it('when a port variable is not a port, then it says which in one line and exits 1 before starting anything', async () => {
    const { code, out } = await start({ HTTP_PORT: 'eighty' });
    assert.equal(code, 1, out);
    assert.equal(out, 'psc: HTTP_PORT must be a port (0–65535), got "eighty"\n');
  });

  it('when RabbitMQ does not answer, then it says so in one line, without the password, and exits 1 before starting any service', async () => {
    const port = await freePort();
    const { code, out } = await start({ AMQP_URL: `amqp://psc:hunter2@127.0.0.1:${port}` });
    assert.equal(code, 1, out);
    assert.match(
      out,
      new RegExp(
        `^psc: cannot connect to RabbitMQ at AMQP_URL \\(connect ECONNREFUSED 127\\.0\\.0\\.1:${port}\\)$`,
        'm',
      ),
    );
    assert.doesNotMatch(out, /hunter2|listening|\[gateway\]/);
  });
});
