import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { QUEUE_SPECS } from '@psc/contracts';
import { createBroker } from '@psc/messaging';
import { createLogger } from '@psc/telemetry';
import { createIsolatedEnv, spawnService, waitFor, type IsolatedEnv } from '@psc/testing';

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

  it('when the app fails to stop, then the rest still stops: what it logged meanwhile is shipped, and the process exits 1', async () => {
    const service = spawn(['--stop-fails']);
    await service.waitForLine(/fixture started/);
    const exit = await service.stop();
    assert.deepEqual(exit, { code: 1, signal: null });
    const msgs = messages(service.lines());
    assert.deepEqual(msgs.slice(msgs.indexOf('stopping')), [
      'stopping',
      'fixture stop failing',
      'stop step failed',
      'stop failed',
    ]);
    // Nothing here subscribes to log.recorded, so the shipped lines wait in the queue of
    // unrouted events: the warning must be there, sent after the app's stop had failed.
    const broker = createBroker({
      url: env.amqpUrl,
      connectionName: 'run-service-test',
      logger: createLogger({ service: 'run-service-test', level: 'silent' }),
    });
    try {
      const channel = broker.createChannel('read', () => Promise.resolve(), { confirm: false });
      const shipped: string[] = [];
      await waitFor(
        async () => {
          for (;;) {
            const msg = await channel.get(QUEUE_SPECS.unroutedEvents.name, { noAck: true });
            if (!msg) break;
            const { payload } = JSON.parse(msg.content.toString()) as {
              payload: { entries: { message: string }[] };
            };
            shipped.push(...payload.entries.map((e) => e.message));
          }
          return shipped.includes('fixture stop failing');
        },
        { timeoutMs: 10_000, message: 'the warning logged by the failing stop, shipped' },
      );
    } finally {
      await broker.close();
    }
  });
});
