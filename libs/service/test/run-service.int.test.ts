import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { createIsolatedEnv, spawnService, type IsolatedEnv } from '@psc/testing';

const entry = fileURLToPath(new URL('./fixtures/fixture-service.ts', import.meta.url));
/** The root logger's messages, in order; the broker's own (`component`) come when they will. */
const messages = (lines: string[]): string[] =>
  lines.flatMap((line) => {
    try {
      const entry = JSON.parse(line) as { msg: string; component?: string };
      return entry.component ? [] : [entry.msg];
    } catch {
      return [];
    }
  });

describe('runService', { timeout: 60_000 }, () => {
  let env: IsolatedEnv;
  before(async () => {
    env = await createIsolatedEnv({ name: 'run-service' });
  });
  after(async () => {
    await env?.cleanup();
  });
  const spawn = (args: string[] = []) =>
    spawnService({
      name: 'service-fixture',
      entry,
      env: { DATABASE_URL: env.databaseUrl, AMQP_URL: env.amqpUrl },
      nodeArgs: [],
      args,
    });

  it('when SIGTERM arrives, then the app stops first and the process exits 0', async () => {
    const service = spawn();
    await service.waitForLine(/fixture started/);
    const exit = await service.stop();
    assert.deepEqual(exit, { code: 0, signal: null });
    const msgs = messages(service.lines());
    assert.deepEqual(msgs.slice(msgs.indexOf('stopping')), [
      'stopping',
      'fixture app stopped',
      'stopped',
    ]);
  });

  it('when started with --until-drained, then it stops by itself once drained', async () => {
    const service = spawn(['--until-drained']);
    const exit = await service.exited;
    assert.deepEqual(exit, { code: 0, signal: null });
    const msgs = messages(service.lines());
    assert.deepEqual(msgs.slice(msgs.indexOf('fixture started')), [
      'fixture started',
      'queues drained; stopping',
      'stopping',
      'fixture app stopped',
      'stopped',
    ]);
  });
});
