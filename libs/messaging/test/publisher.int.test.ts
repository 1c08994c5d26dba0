import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EXCHANGES, QUEUES } from '@psc/contracts';
import { baseTopology, MessageTooLargeError, UnroutableError } from '@psc/messaging';
import { createFixture } from './support/fixture.ts';
import { ping, pingEnvelope, WORK_QUEUE, workQueue } from './support/messages.ts';

describe('publisher', { concurrency: true, timeout: 30_000 }, () => {
  it('when no queue is bound for the routing key, then publish rejects with UnroutableError', async (t) => {
    const fx = await createFixture(t);
    const publisher = fx.publisher(await fx.broker(), baseTopology);

    await assert.rejects(publisher.publish(EXCHANGES.jobs, ping.type, pingEnvelope(1)), (err) => {
      assert.ok(err instanceof UnroutableError);
      assert.equal(err.status, 503);
      assert.equal(err.retryable, true);
      return true;
    });

    // Same publisher, once a queue is bound: the rejection was about routing, nothing else.
    const raw = await fx.raw();
    await raw.channel.assertQueue('late-binder');
    await raw.channel.bindQueue('late-binder', EXCHANGES.jobs, ping.type);
    await publisher.publish(EXCHANGES.jobs, ping.type, pingEnvelope(2));
    assert.equal((await raw.inspect('late-binder')).messageCount, 1);
  });

  it('when one publish is unroutable, then concurrent routable publishes still resolve', async (t) => {
    const fx = await createFixture(t);
    const publisher = fx.publisher(
      await fx.broker(),
      workQueue({ exchange: EXCHANGES.jobs }).topology,
    );

    const results = await Promise.allSettled([
      publisher.publish(EXCHANGES.jobs, ping.type, pingEnvelope(1)),
      publisher.publish(EXCHANGES.jobs, 'conformance.nobody-listens', pingEnvelope(2)),
      publisher.publish(EXCHANGES.jobs, ping.type, pingEnvelope(3)),
    ]);

    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.ok(results[1]?.status === 'rejected' && results[1].reason instanceof UnroutableError);
    assert.equal((await (await fx.raw()).inspect(WORK_QUEUE)).messageCount, 2);
  });

  it('when an event has no subscriber, then publish resolves and the event is kept in the unrouted-events queue', async (t) => {
    const fx = await createFixture(t);
    const publisher = fx.publisher(await fx.broker(), baseTopology);
    const envelope = pingEnvelope(1);

    await publisher.publish(EXCHANGES.events, ping.type, envelope);

    const [kept] = await (await fx.raw()).take(QUEUES.unroutedEvents, 1);
    assert.equal(kept?.properties.messageId, envelope.id);
  });

  it('when a message exceeds the size cap, then publish rejects with MessageTooLargeError and sends nothing', async (t) => {
    const fx = await createFixture(t);
    const publisher = fx.publisher(await fx.broker(), workQueue().topology, {
      maxMessageBytes: 1024,
    });
    const raw = await fx.raw();
    const big = { ...pingEnvelope(1), causationId: 'x'.repeat(2_000) };
    const small = pingEnvelope(2);

    await assert.rejects(publisher.publish(EXCHANGES.events, ping.type, big), (err) => {
      assert.ok(err instanceof MessageTooLargeError);
      assert.equal(err.status, 413);
      assert.equal(err.retryable, false);
      return true;
    });
    // The channel is ordered: had the big one gone out, it would sit before the small one.
    await publisher.publish(EXCHANGES.events, ping.type, small);

    const messages = await raw.take(WORK_QUEUE, 1);
    assert.deepEqual(
      messages.map((m) => String(m.properties.messageId)),
      [small.id],
    );
    assert.equal((await raw.inspect(WORK_QUEUE)).messageCount, 0);
  });
});
