import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { ConfigError, commonEnv, parseEnv, portEnv } from '@psc/core';

const schema = z.object({
  ...commonEnv,
  HTTP_PORT: portEnv(8080),
  PSC_NOTICE_MS: z.coerce.number().int().min(0).max(1_000).default(250),
});

/** The ConfigError `env` fails with. */
function refusal(env: Record<string, string | undefined>): ConfigError {
  try {
    parseEnv(schema, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err;
  }
  assert.fail(`${JSON.stringify(env)} was accepted`);
}

describe('parseEnv (every service’s config)', () => {
  it('when a variable is set but empty (NAME= in a .env file), then it counts as unset, not as 0', () => {
    const parsed = parseEnv(schema, { HTTP_PORT: '', PSC_NOTICE_MS: '', LOG_LEVEL: '' });
    assert.equal(parsed.HTTP_PORT, 8080);
    assert.equal(parsed.PSC_NOTICE_MS, 250);
    assert.equal(parsed.LOG_LEVEL, 'info');
  });

  it('when AMQP_URL or DATABASE_URL has the right scheme but is no URL, then the error is one line naming it', () => {
    for (const [name, value] of [
      ['AMQP_URL', 'amqp://['],
      ['DATABASE_URL', 'postgres://host:port/db'],
      ['DATABASE_URL', 'postgres://['],
    ] as const) {
      const { message } = refusal({ [name]: value });
      assert.equal(message, `invalid configuration: ${name}: must be a valid URL`, value);
    }
  });

  it('when several values are bad, then one line names each of them', () => {
    const { message } = refusal({ HTTP_PORT: '70000', PSC_NOTICE_MS: 'soon', LOG_LEVEL: 'loud' });
    assert.doesNotMatch(message, /\n/);
    for (const name of ['HTTP_PORT', 'PSC_NOTICE_MS', 'LOG_LEVEL'])
      assert.match(message, new RegExp(`${name}: `));
  });
});
