import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Options } from 'amqplib';
import { EXCHANGES, HEADERS, QUEUES, type Envelope } from '@psc/contracts';
import { createEnvelope } from '@psc/messaging';
import { waitFor } from '@psc/testing';
import { createFixture, headerText } from './support/fixture.ts';
import { pingEnvelope, pong, WORK_QUEUE, workQueue } from './support/messages.ts';

interface PoisonCase {
  when: string;
  content?: () => string;
  options?: Options.Publish;
  reason: RegExp;
}

const validPing = (): string => JSON.stringify(pingEnvelope(0));

const cases: PoisonCase[] = [
  { when: 'the body is not JSON', content: () => '{"id": oops', reason: /body is not valid JSON/ },
  {
    when: 'the type is not one the queue accepts',
    content: () => JSON.stringify(createEnvelope(pong, { n: 1 })),
    reason: /unexpected message type conformance\.ponged/,
  },
  {
    when: 'the payload breaks its contract',
    content: () => JSON.stringify({ ...pingEnvelope(1), payload: { n: 'one' } }),
    reason: /conformance\.pinged fails its contract at payload\.n/,
  },
  {
    when: 'x-psc-attempt is not a number',
    options: { headers: { [HEADERS.attempt]: 'abc' } },
    reason: /invalid x-psc-attempt header: "abc"/,
  },
  {
    when: 'x-psc-attempt is 0',
    options: { headers: { [HEADERS.attempt]: 0 } },
    reason: /invalid x-psc-attempt header: 0/,
  },
  {
    when: 'x-psc-attempt is absurdly high',
    options: { headers: { [HEADERS.attempt]: 99_999 } },
    reason: /invalid x-psc-attempt header: 99999/,
  },
  { when: 'the priority is absurd', options: { priority: 200 }, reason: /absurd priority 200/ },
];

describe('poison messages', { concurrency: true, timeout: 30_000 }, () => {
  for (const c of cases) {
    it(`when ${c.when}, then it lands in the dead-letter queue with the reason and the next message is handled`, async (t) => {
      const fx = await createFixture(t);
      const { spec } = workQueue();
      const broker = await fx.broker();
      const raw = await fx.raw();
      const handled: Envelope<unknown>[] = [];
      const { events } = await fx.consumer({
        broker,
        queue: spec,
        prefetch: 1,
        handler: (envelope) => {
          handled.push(envelope);
          return Promise.resolve();
        },
      });
      const poison = Buffer.from((c.content ?? validPing)());
      const good = pingEnvelope(42);

      await raw.send(WORK_QUEUE, poison, { messageId: 'poison-1', ...c.options });
      await raw.send(WORK_QUEUE, JSON.stringify(good), { messageId: good.id });

      await waitFor(() => events.some((e) => e.name === 'acked' && e.messageId === good.id), {
        message: 'the good message acked',
      });
      const [dead] = await raw.take(QUEUES.deadLetter(WORK_QUEUE), 1);
      assert.ok(dead);
      assert.match(headerText(dead, HEADERS.deadReason) ?? '', c.reason);
      assert.equal(headerText(dead, HEADERS.deadQueue), WORK_QUEUE);
      assert.ok(!Number.isNaN(Date.parse(headerText(dead, HEADERS.deadAt) ?? '')));
      assert.deepEqual(dead.content, poison, 'the body is kept as it was');
      assert.equal(dead.properties.messageId, 'poison-1');
      assert.deepEqual(
        handled.map((e) => e.id),
        [good.id],
        'the handler never saw the poison',
      );
      assert.deepEqual(
        events.map((e) => [e.name, e.messageId]),
        [
          ['dead-lettered', 'poison-1'],
          ['acked', good.id],
        ],
      );
      assert.equal((await raw.inspect(WORK_QUEUE)).messageCount, 0);
      assert.equal((await raw.inspect(QUEUES.deadLetter(WORK_QUEUE))).messageCount, 0);
    });
  }
});

describe('message types a queue no longer takes', { timeout: 30_000 }, () => {
  it('when a message of a type whose binding was retired is still queued from before an upgrade, then it is dropped, not parked, and the next message is handled', async (t) => {
    const fx = await createFixture(t);
    const { spec } = workQueue();
    const broker = await fx.broker();
    const raw = await fx.raw();
    const handled: string[] = [];
    const { events } = await fx.consumer({
      broker,
      queue: { ...spec, retiredBindings: [{ exchange: EXCHANGES.events, routingKey: pong.type }] },
      prefetch: 1,
      handler: (envelope) => {
        handled.push(envelope.id);
        return Promise.resolve();
      },
    });
    const old = createEnvelope(pong, { n: 1 });
    const good = pingEnvelope(7);
    await raw.send(WORK_QUEUE, JSON.stringify(old), { messageId: old.id });
    await raw.send(WORK_QUEUE, JSON.stringify(good), { messageId: good.id });

    await waitFor(() => events.some((e) => e.name === 'acked' && e.messageId === good.id), {
      message: 'the good message acked',
    });
    assert.deepEqual(handled, [good.id], 'the handler never saw the retired type');
    assert.deepEqual(
      events.map((e) => [e.name, e.messageId]),
      [
        ['acked', old.id],
        ['acked', good.id],
      ],
    );
    assert.equal((await raw.inspect(WORK_QUEUE)).messageCount, 0);
    assert.equal((await raw.inspect(QUEUES.deadLetter(WORK_QUEUE))).messageCount, 0, 'not parked');
  });
});
