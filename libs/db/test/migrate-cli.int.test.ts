import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runMigrateCli } from '../src/index.ts';
import { FIRST, SECOND, both } from './fixtures/migrations.ts';
import { closedPort, createTestDatabase, type TestDatabase } from './pg-test-db.ts';

describe('runMigrateCli', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  const run = async (
    argv: string[],
    databaseUrl = db.url,
  ): Promise<{ code: number; lines: string[] }> => {
    const lines: string[] = [];
    const code = await runMigrateCli({
      argv,
      env: { DATABASE_URL: databaseUrl },
      schema: 'svc_cli',
      migrations: both,
      log: (line) => lines.push(line),
    });
    return { code, lines };
  };

  it('when the action is unknown, then it prints usage and exits 2', async () => {
    assert.deepEqual(await run(['sideways']), {
      code: 2,
      lines: ['usage: migrate <latest|rollback|status>'],
    });
    assert.deepEqual((await run([])).code, 2);
  });

  it('when run status, latest, rollback, then one line per migration and exit 0', async () => {
    assert.deepEqual(await run(['status']), {
      code: 0,
      lines: [`pending     ${FIRST}`, `pending     ${SECOND}`],
    });
    assert.deepEqual(await run(['latest']), {
      code: 0,
      lines: [`applied     ${FIRST}`, `applied     ${SECOND}`],
    });
    assert.deepEqual(await run(['latest']), { code: 0, lines: ['up to date (2 applied)'] });
    assert.deepEqual(await run(['rollback']), {
      code: 0,
      lines: [`rolled back ${SECOND}`, `rolled back ${FIRST}`],
    });
  });

  it('when DATABASE_URL is not a postgres URL, then one line naming it, without its value, and exit 1', async () => {
    const { code, lines } = await run(['status'], 'mysql://psc:hunter2@127.0.0.1/x');
    assert.equal(code, 1);
    assert.deepEqual(lines, [
      'migrate status failed: invalid configuration: DATABASE_URL: must be a postgres:// URL',
    ]);
  });

  it('when the database is unreachable, then one line without the password and exit 1', async () => {
    const port = await closedPort();
    const { code, lines } = await run(['latest'], `postgres://psc:hunter2@127.0.0.1:${port}/x`);
    assert.equal(code, 1);
    assert.equal(lines.length, 1);
    assert.match(
      lines[0] ?? '',
      /^migrate latest failed: database connection refused at 127\.0\.0\.1:\d+/,
    );
    assert.doesNotMatch(lines[0] ?? '', /hunter2/);
  });
});
