import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EXCHANGES, MAX_PRIORITY } from '@psc/contracts';
import { waitFor } from '@psc/testing';
import { createFixture } from './support/fixture.ts';
import { ping, pingEnvelope, WORK_QUEUE, workQueue } from './support/messages.ts';

describe('priority work queue', { timeout: 30_000 }, () => {
  it('when a priority-9 message joins a backlog of priority-1 ones, then it is handled first', async (t) => {
    const fx = await createFixture(t);
    const { spec, topology } = workQueue({ exchange: EXCHANGES.jobs, priority: true });
    const broker = await fx.broker();
    const publisher = fx.publisher(broker, topology);
    const raw = await fx.raw();
    const backlog = Array.from({ length: 5 }, (_, i) => pingEnvelope(i));
    const urgent = pingEnvelope(99);
    for (const envelope of backlog) {
      await publisher.publish(EXCHANGES.jobs, ping.type, envelope, { priority: 1 });
    }
    await publisher.publish(EXCHANGES.jobs, ping.type, urgent, { priority: MAX_PRIORITY });
    assert.equal(
      (await raw.inspect(WORK_QUEUE)).messageCount,
      6,
      'the backlog waits for a consumer',
    );
    const order: { id: string; priority: number | undefined }[] = [];

    await fx.consumer({
      broker,
      queue: spec,
      prefetch: 1,
      handler: (envelope, ctx) => {
        order.push({ id: envelope.id, priority: ctx.priority });
        return Promise.resolve();
      },
    });

    await waitFor(() => order.length === 6, { message: 'all six handled' });
    assert.deepEqual(order[0], { id: urgent.id, priority: MAX_PRIORITY });
    assert.deepEqual(
      order.slice(1).map((o) => o.id),
      backlog.map((e) => e.id),
      'equal priorities keep their publish order',
    );
  });
});
