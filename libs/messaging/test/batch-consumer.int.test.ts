import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { EXCHANGES, HEADERS, QUEUES } from '@psc/contracts';
import { createBatchConsumer, createEnvelope } from '@psc/messaging';
import { waitFor } from '@psc/testing';
import { createFixture } from './support/fixture.ts';
import { pingEnvelope, pong, WORK_QUEUE, workQueue } from './support/messages.ts';

/** A started lingering batch consumer of the work queue; `batches` holds each batch's ping numbers. */
async function lingering(t: TestContext, options: { prefetch: number; lingerMs: number }) {
  const fx = await createFixture(t);
  const { spec } = workQueue();
  const broker = await fx.broker();
  const raw = await fx.raw();
  const batches: number[][] = [];
  const consumer = createBatchConsumer({
    broker,
    queue: {
      ...spec,
      batched: true,
      failures: 'park',
      retiredBindings: [{ exchange: EXCHANGES.events, routingKey: pong.type }],
    },
    logger: fx.logger,
    isTransient: () => false,
    ...options,
    handleBatch: (messages) => {
      batches.push(messages.map((m) => m.payload.n));
      return Promise.resolve();
    },
  });
  fx.defer(() => consumer.stop());
  await consumer.start();
  const send = async (count: number) => {
    // One at a time, each confirmed before the next: without the linger each would be a batch
    // of its own (the consumer is idle when it arrives).
    for (let n = 0; n < count; n++) await raw.send(WORK_QUEUE, JSON.stringify(pingEnvelope(n)));
  };
  return { raw, consumer, batches, send };
}

/** Messages the queue holds again once its consumer's channel is gone: what it never acked. */
async function unackedAfterStop(
  consumer: { stop: () => Promise<void> },
  raw: { inspect: (q: string) => Promise<{ messageCount: number }> },
): Promise<number> {
  await consumer.stop();
  return (await raw.inspect(WORK_QUEUE)).messageCount;
}

describe('batch consumer', { concurrency: true, timeout: 30_000 }, () => {
  it('when it lingers, then messages sent one by one within the window are applied in one batch, and each is acked after it', async (t) => {
    const { raw, consumer, batches, send } = await lingering(t, { prefetch: 50, lingerMs: 1_000 });
    await send(5);
    await waitFor(() => batches.flat().length === 5, { message: 'all five applied' });
    assert.deepEqual(batches, [[0, 1, 2, 3, 4]]);
    await waitFor(async () => (await raw.inspect(WORK_QUEUE)).messageCount === 0, {
      message: 'queue empty',
    });
    assert.equal(consumer.inFlight(), 0, 'every message acked');
  });

  it('when it lingers and a whole prefetch window arrives, then that window is applied without waiting', async (t) => {
    const { batches, send } = await lingering(t, { prefetch: 3, lingerMs: 60_000 });
    await send(3);
    // The deadline is far below the linger: only a full window can be applied by then.
    await waitFor(() => batches.length > 0, {
      timeoutMs: 10_000,
      message: 'the full window applied',
    });
    assert.deepEqual(batches, [[0, 1, 2]]);
  });

  it('when a message of a retired type arrives among a batch, then it is dropped, not parked, the batch is applied, and every message is settled', async (t) => {
    const { raw, consumer, batches, send } = await lingering(t, { prefetch: 50, lingerMs: 1_000 });
    await send(2);
    await raw.send(WORK_QUEUE, JSON.stringify(createEnvelope(pong, { n: 9 })));
    await send(2);
    await waitFor(() => batches.flat().length === 4, { message: 'the four pings applied' });
    assert.deepEqual(batches, [[0, 1, 0, 1]]);
    assert.equal(await unackedAfterStop(consumer, raw), 0);
    assert.equal((await raw.inspect(QUEUES.deadLetter(WORK_QUEUE))).messageCount, 0, 'not parked');
  });

  it('when a poison message arrives among a batch, then it is parked with its reason, the batch is applied, and every message is settled', async (t) => {
    const { raw, consumer, batches, send } = await lingering(t, { prefetch: 50, lingerMs: 1_000 });
    await send(2);
    await raw.send(WORK_QUEUE, JSON.stringify({ not: 'an envelope' }), { messageId: 'poison-1' });
    await send(2);
    await waitFor(() => batches.flat().length === 4, { message: 'the four pings applied' });
    assert.deepEqual(batches, [[0, 1, 0, 1]]);
    const [dead] = await raw.take(QUEUES.deadLetter(WORK_QUEUE), 1);
    assert.equal(dead?.properties.messageId, 'poison-1');
    // A batch is acked after the poison before it was parked: nothing may come back.
    assert.equal(await unackedAfterStop(consumer, raw), 0);
  });

  it('when a bundle arrives, then each of its envelopes is applied, a bad one is parked alone with its reason, and the bundle is acked once', async (t) => {
    const { raw, consumer, batches, send } = await lingering(t, { prefetch: 50, lingerMs: 200 });
    const bad = { ...pingEnvelope(7), payload: { n: 'seven' } };
    const bundle = [pingEnvelope(10), bad, pingEnvelope(11), createEnvelope(pong, { n: 9 })];
    await raw.send(WORK_QUEUE, JSON.stringify(bundle), {
      messageId: 'bundle-1',
      headers: { [HEADERS.bundle]: bundle.length },
    });
    await send(1);
    await waitFor(() => batches.flat().length === 3, { message: 'the three good pings applied' });
    assert.deepEqual(batches.flat().sort(), [0, 10, 11]);
    const [dead] = await raw.take(QUEUES.deadLetter(WORK_QUEUE), 1);
    assert.equal(dead?.properties.messageId, bad.id, 'the bad envelope parked as itself');
    assert.equal(dead?.properties.headers?.[HEADERS.bundle], undefined);
    assert.match(String(dead?.properties.headers?.[HEADERS.deadReason]), /payload\.n/);
    assert.deepEqual(JSON.parse(dead?.content.toString()), bad);
    // The retired pong was dropped, not parked: the dead-letter queue holds nothing else.
    assert.equal((await raw.inspect(QUEUES.deadLetter(WORK_QUEUE))).messageCount, 0);
    await waitFor(() => consumer.inFlight() === 0, { message: 'the bundle settled' });
    assert.equal(await unackedAfterStop(consumer, raw), 0);
  });

  it("when a bundle names each envelope's trace, then a bad envelope parked alone carries its own trace context, not the bundle's", async (t) => {
    const { raw, consumer, batches } = await lingering(t, { prefetch: 50, lingerMs: 50 });
    const parent = (n: number) => `00-${String(n).repeat(32).slice(0, 32)}-${'ab'.repeat(8)}-01`;
    const bad = { ...pingEnvelope(7), payload: { n: 'seven' } };
    const bundle = [pingEnvelope(20), bad, pingEnvelope(21)];
    await raw.send(WORK_QUEUE, JSON.stringify(bundle), {
      headers: {
        [HEADERS.bundle]: bundle.length,
        traceparent: parent(1),
        [HEADERS.bundleTraces]: [1, 2, 3].map((n) => JSON.stringify({ traceparent: parent(n) })),
      },
    });
    await waitFor(() => batches.flat().length === 2, { message: 'the two good pings applied' });
    const [dead] = await raw.take(QUEUES.deadLetter(WORK_QUEUE), 1);
    assert.equal(dead?.properties.messageId, bad.id);
    assert.equal(String(dead?.properties.headers?.['traceparent']), parent(2));
    assert.equal(dead?.properties.headers?.[HEADERS.bundleTraces], undefined);
    await waitFor(() => consumer.inFlight() === 0, { message: 'the bundle settled' });
    assert.equal(await unackedAfterStop(consumer, raw), 0);
  });

  it("when a bundle's trace header is malformed, oversized or of the wrong length, then it is ignored and every envelope is applied", async (t) => {
    const { raw, consumer, batches } = await lingering(t, { prefetch: 50, lingerMs: 50 });
    const headers = [
      ['x'.repeat(5_000), '{"traceparent": 1', '[1]'],
      [JSON.stringify({ traceparent: 'not a traceparent', other: 'x'.repeat(2_000) })],
      Array.from({ length: 5_000 }, () => '{}'),
      'not an array',
    ];
    for (const [i, traces] of headers.entries()) {
      const bundle = [pingEnvelope(30 + 3 * i), pingEnvelope(31 + 3 * i), pingEnvelope(32 + 3 * i)];
      await raw.send(WORK_QUEUE, JSON.stringify(bundle), {
        headers: { [HEADERS.bundle]: bundle.length, [HEADERS.bundleTraces]: traces },
      });
    }
    await waitFor(() => batches.flat().length === 12, { message: 'all twelve pings applied' });
    assert.deepEqual(
      batches.flat().sort((a, b) => a - b),
      Array.from({ length: 12 }, (_, k) => 30 + k),
    );
    assert.equal((await raw.inspect(QUEUES.deadLetter(WORK_QUEUE))).messageCount, 0);
    await waitFor(() => consumer.inFlight() === 0, { message: 'the bundles settled' });
    assert.equal(await unackedAfterStop(consumer, raw), 0);
  });

  it('when a bundle is empty or not an array of envelopes, then it is parked whole with the reason', async (t) => {
    const { raw, consumer, batches, send } = await lingering(t, { prefetch: 50, lingerMs: 100 });
    await raw.send(WORK_QUEUE, '[]', { messageId: 'empty-bundle' });
    await send(1);
    await waitFor(() => batches.flat().length === 1, { message: 'the ping applied' });
    const [dead] = await raw.take(QUEUES.deadLetter(WORK_QUEUE), 1);
    assert.equal(dead?.properties.messageId, 'empty-bundle');
    assert.match(String(dead?.properties.headers?.[HEADERS.deadReason]), /bundle of 0/);
    assert.equal(await unackedAfterStop(consumer, raw), 0);
  });

  it('when batches follow one another, then after they are applied the queue holds nothing to redeliver', async (t) => {
    const { raw, consumer, batches, send } = await lingering(t, { prefetch: 4, lingerMs: 200 });
    for (let round = 0; round < 3; round++) {
      await send(6);
      await waitFor(() => batches.flat().length === 6 * (round + 1), {
        message: `round ${round} applied`,
      });
    }
    assert.ok(
      batches.every((b) => b.length <= 4),
      JSON.stringify(batches),
    );
    assert.equal(await unackedAfterStop(consumer, raw), 0);
  });
});
