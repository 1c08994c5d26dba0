import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { ConfigError, commonEnv, intEnv, parseEnv, portEnv } from '@psc/core';

const schema = z.object({
  ...commonEnv,
  HTTP_PORT: portEnv(8080),
  PSC_NOTICE_MS: intEnv(0, 1_000).default(250),
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

  it('when a number setting is written with a unit or in another notation, then it is refused as not a whole number; spaces around it are fine', () => {
    for (const value of ['15m', '0x10', '1e3', '12.0', ' ', '1_000']) {
      const { message } = refusal({ PSC_NOTICE_MS: value });
      assert.equal(
        message,
        'invalid configuration: PSC_NOTICE_MS: must be a whole number, digits only (no unit)',
        JSON.stringify(value),
      );
    }
    assert.equal(parseEnv(schema, { PSC_NOTICE_MS: ' 500 ' }).PSC_NOTICE_MS, 500);
    assert.equal(parseEnv(schema, { HTTP_PORT: '0' }).HTTP_PORT, 0);
    assert.match(refusal({ PSC_NOTICE_MS: '1001' }).message, /PSC_NOTICE_MS: Too big/);
  });

  it('when several values are bad, then one line names each of them', () => {
    const { message } = refusal({ HTTP_PORT: '70000', PSC_NOTICE_MS: 'soon', LOG_LEVEL: 'loud' });
    assert.doesNotMatch(message, /\n/);
    for (const name of ['HTTP_PORT', 'PSC_NOTICE_MS', 'LOG_LEVEL'])
      assert.match(message, new RegExp(`${name}: `));
  });
});
