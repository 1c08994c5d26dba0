import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EXCHANGES } from '@psc/contracts';
import { waitFor } from '@psc/testing';
import { createFixture } from './support/fixture.ts';
import { ping, pingEnvelope, pingNumber, WORK_QUEUE, workQueue } from './support/messages.ts';

describe('graceful stop', { concurrency: true, timeout: 30_000 }, () => {
  it('when stop() is called during a handler, then it waits for the handler and its ack, and leaves unstarted messages queued', async (t) => {
    const fx = await createFixture(t);
    const { spec, topology } = workQueue();
    const broker = await fx.broker();
    const publisher = fx.publisher(broker, topology);
    const raw = await fx.raw();
    const envelopes = [pingEnvelope(1), pingEnvelope(2), pingEnvelope(3)];
    for (const e of envelopes) await publisher.publish(EXCHANGES.events, ping.type, e);
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    fx.defer(() => release());
    const timeline: string[] = [];
    const { consumer } = await fx.consumer({
      broker,
      queue: spec,
      prefetch: 1,
      handler: async (envelope) => {
        timeline.push(`started ${pingNumber(envelope)}`);
        await gate;
        timeline.push(`finished ${pingNumber(envelope)}`);
      },
    });
    await waitFor(() => consumer.inFlight() === 1, { message: 'a handler in flight' });

    const stopping = consumer.stop().then(() => timeline.push('stopped'));
    await waitFor(async () => (await raw.inspect(WORK_QUEUE)).consumerCount === 0, {
      message: 'the consumer to be cancelled',
    });
    assert.deepEqual(timeline, ['started 1'], 'stop() must not resolve while a handler runs');
    release();
    await stopping;

    assert.deepEqual(timeline, ['started 1', 'finished 1', 'stopped']);
    // Had the in-flight message not been acked before the channel closed, it would be back (3).
    assert.deepEqual(await raw.inspect(WORK_QUEUE), { messageCount: 2, consumerCount: 0 });
    const left = await raw.take(WORK_QUEUE, 2);
    assert.deepEqual(
      left.map((m) => String(m.properties.messageId)),
      [envelopes[1]?.id, envelopes[2]?.id],
    );
  });

  it('when several handlers are in flight, then stop() waits for all of them and acks each', async (t) => {
    const fx = await createFixture(t);
    const { spec, topology } = workQueue();
    const broker = await fx.broker();
    const publisher = fx.publisher(broker, topology);
    const raw = await fx.raw();
    const envelopes = Array.from({ length: 5 }, (_, i) => pingEnvelope(i));
    for (const e of envelopes) await publisher.publish(EXCHANGES.events, ping.type, e);
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    fx.defer(() => release());
    const finished: number[] = [];
    const { consumer, events } = await fx.consumer({
      broker,
      queue: spec,
      prefetch: 3,
      handler: async (envelope) => {
        await gate;
        finished.push(pingNumber(envelope));
      },
    });
    await waitFor(() => consumer.inFlight() === 3, { message: 'three handlers in flight' });

    const stopping = consumer.stop();
    await waitFor(async () => (await raw.inspect(WORK_QUEUE)).consumerCount === 0, {
      message: 'the consumer to be cancelled',
    });
    release();
    await stopping;

    assert.deepEqual(finished, [0, 1, 2]);
    assert.equal(events.filter((e) => e.name === 'acked').length, 3);
    assert.deepEqual(await raw.inspect(WORK_QUEUE), { messageCount: 2, consumerCount: 0 });
  });
});
