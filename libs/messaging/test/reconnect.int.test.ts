import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { EXCHANGES } from '@psc/contracts';
import { createBroker, type Broker, type FailureDecision } from '@psc/messaging';
import { createLogger } from '@psc/telemetry';
import { waitFor } from '@psc/testing';
import { createFixture, watchChannels } from './support/fixture.ts';
import { ping, pingEnvelope, workQueue } from './support/messages.ts';

const checks = (broker: Broker): Promise<boolean> =>
  broker.check().then(
    () => true,
    () => false,
  );

describe('reconnect', { concurrency: true, timeout: 30_000 }, () => {
  it('when the connection is cut and restored, then the consumer resumes and handles messages published meanwhile and after', async (t) => {
    const fx = await createFixture(t);
    const { spec, topology } = workQueue();
    const { proxy, amqpUrl } = await fx.proxy();
    const consumingBroker = await fx.broker({ url: amqpUrl, name: 'conformance-proxied' });
    // The publisher talks to RabbitMQ directly: only the consumer's connection is cut.
    const publisher = fx.publisher(await fx.broker(), topology);
    const handled: string[] = [];
    await fx.consumer({
      broker: consumingBroker,
      queue: spec,
      handler: (envelope) => {
        handled.push(envelope.id);
        return Promise.resolve();
      },
    });
    const before = pingEnvelope(1);
    const during = pingEnvelope(2);
    const after = pingEnvelope(3);
    await publisher.publish(EXCHANGES.events, ping.type, before);
    await waitFor(() => handled.includes(before.id), { message: 'message before the cut' });

    proxy.cut();
    await waitFor(async () => !(await checks(consumingBroker)), { message: 'the cut noticed' });
    await publisher.publish(EXCHANGES.events, ping.type, during);
    proxy.restore();
    await waitFor(() => checks(consumingBroker), { message: 'reconnected' });
    await publisher.publish(EXCHANGES.events, ping.type, after);

    await waitFor(() => handled.includes(after.id), { message: 'message after the restore' });
    await waitFor(() => handled.includes(during.id), {
      message: 'message published during the cut',
    });
    assert.deepEqual(new Set(handled), new Set([before.id, during.id, after.id]));
  });

  it('when RabbitMQ cannot be reached at start, then one warning says so while it retries, and a line says when it connected', async (t) => {
    const fx = await createFixture(t);
    const { proxy, amqpUrl } = await fx.proxy();
    proxy.cut();
    const lines: { level: string; msg: string; err?: string; failedForMs?: number }[] = [];
    const logger = createLogger({
      service: 'reconnect-test',
      level: 'debug',
      destination: new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(JSON.parse(chunk.toString()) as (typeof lines)[number]);
          done();
        },
      }),
    });
    const broker = createBroker({ url: amqpUrl, connectionName: 'reconnect-test', logger });
    fx.defer(() => broker.close());
    const failed = () => lines.filter((l) => l.msg === 'connect failed');

    await waitFor(() => failed().length >= 2, {
      timeoutMs: 10_000,
      message: 'two more tries after the first',
    });
    const warnings = lines.filter((l) => l.level === 'warn');
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.equal(warnings[0]?.msg, 'cannot connect to RabbitMQ; retrying every second');
    assert.ok(warnings[0]?.err, 'the warning says why');
    assert.doesNotMatch(
      JSON.stringify(lines),
      /guest:guest|:\/\/[^@\s]*:[^@\s]*@/,
      'no credentials',
    );

    proxy.restore();
    await waitFor(() => checks(broker), { timeoutMs: 10_000, message: 'connected' });
    const connected = lines.find((l) => l.msg === 'connected to RabbitMQ');
    assert.ok(
      connected?.failedForMs !== undefined && connected.failedForMs >= 1_000,
      JSON.stringify(connected),
    );
  });

  it('when the connection is cut, then check() rejects, and after restore it resolves again', async (t) => {
    const fx = await createFixture(t);
    const { proxy, amqpUrl } = await fx.proxy();
    const broker = await fx.broker({ url: amqpUrl });
    await broker.check();

    proxy.cut();
    await waitFor(async () => !(await checks(broker)), {
      timeoutMs: 5_000,
      message: 'check() to fail',
    });
    await assert.rejects(broker.check(), /not connected/);
    assert.equal(broker.isConnected(), false);

    proxy.restore();
    await waitFor(() => checks(broker), { timeoutMs: 10_000, message: 'check() to pass again' });
    await broker.check();
    assert.equal(broker.isConnected(), true);
  });

  it('when the connection drops while a handler runs, then its success is not reported as a failure and the message is redelivered', async (t) => {
    const fx = await createFixture(t);
    const { spec, topology } = workQueue();
    const { proxy, amqpUrl } = await fx.proxy();
    const consumingBroker = await fx.broker({ url: amqpUrl, name: 'conformance-proxied' });
    const publisher = fx.publisher(await fx.broker(), topology);
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    fx.defer(() => release());
    const calls: { attempt: number; redelivered: boolean }[] = [];
    const failures: [FailureDecision['kind'], string][] = [];
    const { events } = await fx.consumer({
      broker: consumingBroker,
      queue: spec,
      handler: async (_envelope, ctx) => {
        calls.push({ attempt: ctx.attempt, redelivered: ctx.redelivered });
        if (calls.length === 1) await gate;
      },
      onFailure: (_envelope, err, outcome) => {
        failures.push([
          outcome.kind,
          err instanceof Error ? `${err.name}: ${err.message}` : 'non-Error',
        ]);
        return Promise.resolve();
      },
    });
    await publisher.publish(EXCHANGES.events, ping.type, pingEnvelope(1));
    await waitFor(() => calls.length === 1, { message: 'handler started' });

    proxy.cut();
    await waitFor(async () => !(await checks(consumingBroker)), { message: 'the cut noticed' });
    release(); // the handler succeeds, but its channel is gone: the ack cannot be sent
    proxy.restore();

    await waitFor(() => events.some((e) => e.name === 'acked'), {
      message: 'acked after redelivery',
    });
    assert.deepEqual(
      failures,
      [],
      'the handler never failed, so onFailure must not be told it did',
    );
    assert.deepEqual(calls, [
      { attempt: 1, redelivered: false },
      { attempt: 1, redelivered: true },
    ]);
  });

  it('when the broker closes the consumer’s channel with the connection up (406, as its consumer timeout does), then it is not consuming until it subscribes again within 5 s, and the message in flight and those published meanwhile and after are handled', async (t) => {
    const fx = await createFixture(t);
    const { spec, topology } = workQueue();
    const broker = await fx.broker();
    let disconnects = 0;
    broker.connection.on('disconnect', () => (disconnects += 1));
    const watched = watchChannels(broker);
    const publisher = fx.publisher(await fx.broker(), topology);
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    fx.defer(() => release());
    const calls: { id: string; redelivered: boolean }[] = [];
    const { consumer } = await fx.consumer({
      broker: watched.broker,
      queue: spec,
      handler: async (envelope, ctx) => {
        calls.push({ id: envelope.id, redelivered: ctx.redelivered });
        if (calls.length === 1) await gate;
      },
    });
    const inFlight = pingEnvelope(1);
    const during = pingEnvelope(2);
    const after = pingEnvelope(3);
    await publisher.publish(EXCHANGES.events, ping.type, inFlight);
    await waitFor(() => calls.length === 1, { message: 'handler started' });

    const closedAt = Date.now();
    watched.closeLast();
    await waitFor(() => !consumer.isConsuming(), { intervalMs: 10, message: 'consumer down' });
    await publisher.publish(EXCHANGES.events, ping.type, during);
    release(); // its channel is gone: the ack cannot be sent, the broker redelivers it
    await waitFor(() => consumer.isConsuming(), { timeoutMs: 10_000, message: 'consuming again' });
    const backMs = Date.now() - closedAt;
    await publisher.publish(EXCHANGES.events, ping.type, after);

    const handled = (id: string) =>
      calls.some((c) => c.id === id && (id !== inFlight.id || c.redelivered));
    await waitFor(() => [inFlight.id, during.id, after.id].every(handled), {
      message: 'every message handled',
    });
    assert.equal(watched.channels.length, 2, 'one channel reopened');
    assert.equal(disconnects, 0, 'the connection stayed up');
    assert.ok(backMs < 5_000, `consuming again after ${backMs} ms`);
  });
});
