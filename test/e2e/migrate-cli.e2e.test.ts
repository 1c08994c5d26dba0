import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createIsolatedEnv, type IsolatedEnv } from '@psc/testing';
import { runScript } from '../support/scripts.ts';

const SERVICES = ['gateway', 'platform-registry', 'scheduler', 'sync-worker', 'collector'];

/** `npm run migrate -- <action>` with DATABASE_URL and nothing else of psc's config. */
const migrate = (action: string, databaseUrl: string) =>
  runScript('migrate', [action], { DATABASE_URL: databaseUrl });

describe('migrating by hand: npm run migrate', { timeout: 300_000 }, () => {
  let env: IsolatedEnv;
  before(async () => {
    env = await createIsolatedEnv({ name: 'migrate-cli' });
  });
  after(async () => {
    await env?.cleanup();
  });

  it('when given only DATABASE_URL, no secret key, then every service migrates its schema and reports it', () => {
    const latest = migrate('latest', env.databaseUrl);
    assert.equal(latest.stderr, '', 'nothing on stderr: no stack trace, no config error');
    assert.equal(latest.code, 0, latest.stdout);
    for (const service of SERVICES) {
      assert.match(latest.stdout, new RegExp(`^${service}: applied {5}\\S+`, 'm'), service);
    }
    const status = migrate('status', env.databaseUrl);
    assert.equal(status.code, 0, status.stdout + status.stderr);
    assert.doesNotMatch(status.stdout, /pending/, 'every migration applied');
    for (const service of SERVICES) {
      assert.match(status.stdout, new RegExp(`^${service}: applied {5}\\S+`, 'm'), service);
    }
  });

  it('when DATABASE_URL is not a postgres URL, then each service says so in one line, without its value, and it exits 1', () => {
    const result = migrate('status', 'mysql://psc:hunter2@127.0.0.1/x');
    assert.equal(result.code, 1);
    assert.equal(result.stderr, '');
    assert.deepEqual(
      result.stdout.trim().split('\n'),
      SERVICES.map(
        (s) =>
          `${s}: migrate status failed: invalid configuration: DATABASE_URL: must be a postgres:// URL`,
      ),
    );
  });
});
