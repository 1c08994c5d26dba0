import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBatchConsumer } from '@psc/messaging';
import { waitFor } from '@psc/testing';
import { createFixture } from './support/fixture.ts';
import { pingEnvelope, WORK_QUEUE, workQueue } from './support/messages.ts';

describe('batch consumer', { concurrency: true, timeout: 30_000 }, () => {
  it('when it lingers, then messages sent one by one within the window are applied in one batch, and each is acked after it', async (t) => {
    const fx = await createFixture(t);
    const { spec } = workQueue();
    const broker = await fx.broker();
    const raw = await fx.raw();
    const batches: number[][] = [];
    const consumer = createBatchConsumer({
      broker,
      queue: { ...spec, failures: 'park' },
      logger: fx.logger,
      isTransient: () => false,
      prefetch: 50,
      lingerMs: 1_000,
      handleBatch: (messages) => {
        batches.push(messages.map((m) => m.payload.n));
        return Promise.resolve();
      },
    });
    fx.defer(() => consumer.stop());
    await consumer.start();

    // Sent one at a time, each confirmed before the next: without the linger each would be
    // a batch of its own (the consumer is idle when it arrives).
    for (let n = 0; n < 5; n++) await raw.send(WORK_QUEUE, JSON.stringify(pingEnvelope(n)));
    await waitFor(() => batches.flat().length === 5, { message: 'all five applied' });
    assert.deepEqual(batches, [[0, 1, 2, 3, 4]]);
    await waitFor(async () => (await raw.inspect(WORK_QUEUE)).messageCount === 0, {
      message: 'queue empty',
    });
    assert.equal(consumer.inFlight(), 0, 'every message acked');
  });

  it('when it lingers and a whole prefetch window arrives, then that window is applied without waiting', async (t) => {
    const fx = await createFixture(t);
    const { spec } = workQueue();
    const broker = await fx.broker();
    const raw = await fx.raw();
    const applied: number[] = [];
    const consumer = createBatchConsumer({
      broker,
      queue: { ...spec, failures: 'park' },
      logger: fx.logger,
      isTransient: () => false,
      prefetch: 3,
      lingerMs: 60_000,
      handleBatch: (messages) => {
        applied.push(messages.length);
        return Promise.resolve();
      },
    });
    fx.defer(() => consumer.stop());
    await consumer.start();
    for (let n = 0; n < 3; n++) await raw.send(WORK_QUEUE, JSON.stringify(pingEnvelope(n)));
    // The deadline is far below the linger: only a full window can be applied by then.
    await waitFor(() => applied.length > 0, {
      timeoutMs: 10_000,
      message: 'the full window applied',
    });
    assert.deepEqual(applied, [3]);
  });
});
