import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EXCHANGES, QUEUES, type Envelope } from '@psc/contracts';
import { queueTopology, type HandlerContext } from '@psc/messaging';
import { waitFor } from '@psc/testing';
import { createFixture } from './support/fixture.ts';
import { ping, pingEnvelope, WORK_QUEUE, workQueue } from './support/messages.ts';

describe('publish → consume', { concurrency: true, timeout: 30_000 }, () => {
  it('when a message is published, then it is confirmed and stored persistent with its envelope as AMQP properties', async (t) => {
    const fx = await createFixture(t);
    const { topology } = workQueue();
    const publisher = fx.publisher(await fx.broker(), topology);
    const raw = await fx.raw();
    const envelope = pingEnvelope(1, { correlationId: 'corr-publish-1' });

    await publisher.publish(EXCHANGES.events, ping.type, envelope);

    // Resolved means confirmed: the broker has already enqueued it, no polling needed.
    assert.equal((await raw.inspect(WORK_QUEUE)).messageCount, 1);
    const [msg] = await raw.take(WORK_QUEUE, 1);
    assert.ok(msg);
    assert.equal(msg.properties.deliveryMode, 2, 'persistent');
    assert.equal(msg.properties.messageId, envelope.id);
    assert.equal(msg.properties.correlationId, 'corr-publish-1');
    assert.equal(msg.properties.type, ping.type);
    assert.equal(msg.properties.contentType, 'application/json');
    assert.equal(msg.properties.appId, 'conformance');
    assert.deepEqual(JSON.parse(msg.content.toString('utf8')), envelope);
  });

  it('when a consumer runs, then its handler receives the parsed envelope and the message is acked', async (t) => {
    const fx = await createFixture(t);
    const { spec, topology } = workQueue();
    const broker = await fx.broker();
    const publisher = fx.publisher(broker, topology);
    const raw = await fx.raw();
    const received: { envelope: Envelope<unknown>; ctx: HandlerContext }[] = [];
    const { consumer, events } = await fx.consumer({
      broker,
      queue: spec,
      handler: (envelope, ctx) => {
        received.push({ envelope, ctx });
        return Promise.resolve();
      },
    });
    const envelope = pingEnvelope(7);
    // A field the contract does not know: the handler must see the parsed payload, not raw JSON.
    const withExtra = { ...envelope, payload: { n: 7, smuggled: true } };

    await publisher.publish(EXCHANGES.events, ping.type, withExtra);
    await waitFor(() => events.some((e) => e.name === 'acked'), { message: 'acked event' });
    await consumer.stop();

    assert.equal(received.length, 1);
    const [first] = received;
    assert.deepEqual(first?.envelope, envelope);
    assert.equal(first?.ctx.attempt, 1);
    assert.equal(first?.ctx.redelivered, false);
    assert.deepEqual(events, [
      { name: 'acked', messageId: envelope.id, type: ping.type, attempt: 1 },
    ]);
    assert.deepEqual(await raw.inspect(WORK_QUEUE), { messageCount: 0, consumerCount: 0 });
  });

  it('when a queue retires a binding, then declaring it again removes the binding and those events no longer reach it', async (t) => {
    const fx = await createFixture(t);
    const { spec, topology } = workQueue();
    const broker = await fx.broker();
    const raw = await fx.raw();
    await fx.publisher(broker, topology).publish(EXCHANGES.events, ping.type, pingEnvelope(1));
    assert.equal((await raw.inspect(WORK_QUEUE)).messageCount, 1, 'bound at first');

    // The next version of the queue: the same queue, its ping binding retired.
    const next = queueTopology({ ...spec, bindings: [], retiredBindings: spec.bindings });
    await fx.publisher(broker, next).publish(EXCHANGES.events, ping.type, pingEnvelope(2));
    assert.equal((await raw.inspect(WORK_QUEUE)).messageCount, 1, 'nothing more routed to it');
    const [kept] = await raw.take(QUEUES.unroutedEvents, 1);
    assert.equal(
      (JSON.parse(kept!.content.toString('utf8')) as { payload: { n: number } }).payload.n,
      2,
    );
  });
});
