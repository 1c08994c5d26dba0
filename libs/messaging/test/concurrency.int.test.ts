import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EXCHANGES } from '@psc/contracts';
import { consumingChannelLimits, waitFor } from '@psc/testing';
import { createFixture, watchChannels } from './support/fixture.ts';
import { ping, pingEnvelope, pingNumber, WORK_QUEUE, workQueue } from './support/messages.ts';

/** Handlers that block until the test releases them, one by one, by message number. */
function gates() {
  const waiting = new Map<number, () => void>();
  return {
    wait: (n: number) => new Promise<void>((resolve) => waiting.set(n, resolve)),
    release(n: number) {
      const r = waiting.get(n);
      assert.ok(r, `message ${n} is not waiting`);
      waiting.delete(n);
      r();
    },
    releaseAll() {
      for (const r of waiting.values()) r();
      waiting.clear();
    },
  };
}

describe(
  'a consumer that holds more deliveries than it runs',
  { concurrency: true, timeout: 30_000 },
  () => {
    it('when it holds 4 and runs 2 at once, then never more than 2 handlers run, the other 2 wait delivered (not in the queue), and each one starts as a running one ends, in delivery order, every message handled and acked once', async (t) => {
      const fx = await createFixture(t);
      const { spec, topology } = workQueue();
      const broker = await fx.broker();
      const publisher = fx.publisher(broker, topology);
      const raw = await fx.raw();
      for (let n = 0; n < 6; n += 1) {
        await publisher.publish(EXCHANGES.events, ping.type, pingEnvelope(n));
      }
      const gate = gates();
      const started: number[] = [];
      let running = 0;
      let most = 0;
      const { consumer, events } = await fx.consumer({
        broker,
        queue: spec,
        prefetch: 4,
        concurrency: 2,
        handler: async (envelope) => {
          const n = pingNumber(envelope);
          started.push(n);
          running += 1;
          most = Math.max(most, running);
          await gate.wait(n);
          running -= 1;
        },
      });
      // Before the consumers' stops (cleanup runs last in, first out), which wait for their runs.
      fx.defer(() => gate.releaseAll());
      await waitFor(() => consumer.inFlight() === 4, { message: 'four deliveries held' });
      assert.deepEqual(started, [0, 1], 'two run, two wait');
      // The two waiting are the broker's unacked deliveries, not ready messages.
      assert.equal((await raw.inspect(WORK_QUEUE)).messageCount, 2);

      gate.release(1);
      await waitFor(() => started.length === 3, { message: 'the next one starts' });
      assert.deepEqual(started, [0, 1, 2]);
      gate.release(0);
      gate.release(2);
      await waitFor(() => started.length === 5, { message: 'two more start' });
      for (const n of [3, 4]) gate.release(n);
      await waitFor(() => started.length === 6, { message: 'the last one starts' });
      gate.release(5);
      await waitFor(() => events.filter((e) => e.name === 'acked').length === 6, {
        message: 'all six acked',
      });

      assert.deepEqual(started, [0, 1, 2, 3, 4, 5]);
      assert.equal(most, 2, 'never more than two at once');
      assert.deepEqual(await raw.inspect(WORK_QUEUE), { messageCount: 0, consumerCount: 1 });
    });

    it('when a long run takes its only slot, then the deliveries it holds next in line go back to the queue after the hand-back wait and an idle replica handles them, fresh (not flagged redelivered), while the long one still runs; every message is handled and acked once', async (t) => {
      const fx = await createFixture(t);
      const { spec, topology } = workQueue();
      const publisher = fx.publisher(await fx.broker(), topology);
      const raw = await fx.raw();
      for (let n = 0; n < 3; n += 1) {
        await publisher.publish(EXCHANGES.events, ping.type, pingEnvelope(n));
      }
      const gate = gates();
      const onA: number[] = [];
      const a = await fx.consumer({
        broker: await fx.broker(),
        queue: spec,
        prefetch: 3,
        concurrency: 1,
        handBackAfterMs: 300,
        handler: async (envelope) => {
          onA.push(pingNumber(envelope));
          await gate.wait(pingNumber(envelope));
        },
      });
      // Before the consumers' stops (cleanup runs last in, first out), which wait for their runs.
      fx.defer(() => gate.releaseAll());
      await waitFor(() => a.consumer.inFlight() === 3, { message: 'A holds all three' });

      const onB: { n: number; redelivered: boolean }[] = [];
      const b = await fx.consumer({
        broker: await fx.broker(),
        queue: spec,
        prefetch: 3,
        concurrency: 1,
        handler: (envelope, ctx) => {
          onB.push({ n: pingNumber(envelope), redelivered: ctx.redelivered });
          return Promise.resolve();
        },
      });
      // A reports a hand-back once the broker confirmed the fresh copy, and B may have run that
      // copy before the confirm reached A: wait for both.
      await waitFor(
        () => onB.length === 2 && a.events.filter((e) => e.name === 'handed-back').length === 2,
        { timeoutMs: 10_000, message: 'the two held by A handed back and handled by B' },
      );
      assert.deepEqual(onA, [0], 'the long one still runs on A alone');
      assert.deepEqual(
        onB.sort((x, y) => x.n - y.n),
        [
          { n: 1, redelivered: false },
          { n: 2, redelivered: false },
        ],
      );
      assert.equal(a.events.filter((e) => e.name === 'handed-back').length, 2);

      gate.release(0);
      await waitFor(
        () =>
          a.events.filter((e) => e.name === 'acked').length === 1 &&
          b.events.filter((e) => e.name === 'acked').length === 2,
        { message: 'each acked once' },
      );
      assert.deepEqual(onA, [0], 'nothing handed back came back to A');
      assert.deepEqual(await raw.inspect(WORK_QUEUE), { messageCount: 0, consumerCount: 2 });
    });

    it('when long runs take every slot and no replica is free, then the handed-back deliveries wait in the queue, the channel takes no more than it runs (no delivery bounces between it and the queue), and once the long run ends each runs here once, in order, and the channel holds its prefetch again', async (t) => {
      const fx = await createFixture(t);
      const { spec, topology } = workQueue();
      const publisher = fx.publisher(await fx.broker(), topology);
      const raw = await fx.raw();
      for (let n = 0; n < 4; n += 1) {
        await publisher.publish(EXCHANGES.events, ping.type, pingEnvelope(n));
      }
      const gate = gates();
      const started: number[] = [];
      const { consumer, events } = await fx.consumer({
        broker: await fx.broker(),
        queue: spec,
        prefetch: 3,
        concurrency: 1,
        handBackAfterMs: 200,
        handler: async (envelope) => {
          const n = pingNumber(envelope);
          started.push(n);
          if (n === 0) await gate.wait(n);
        },
      });
      // Before the consumers' stops (cleanup runs last in, first out), which wait for their runs.
      fx.defer(() => gate.releaseAll());
      await waitFor(() => events.filter((e) => e.name === 'handed-back').length === 2, {
        message: 'the two held next in line handed back',
      });
      // The broker's own view: the channel is limited to the one delivery it runs, so the
      // three others stay ready in the queue instead of coming back to wait here again.
      await waitFor(async () => (await consumingChannelLimits(fx.env.vhost)).join() === '1', {
        timeoutMs: 10_000,
        message: 'the channel narrowed to its concurrency',
      });
      await waitFor(
        async () => (await raw.inspect(WORK_QUEUE)).messageCount === 3 && consumer.inFlight() === 1,
        { message: 'three ready in the queue, one held: the running one' },
      );
      assert.equal(events.filter((e) => e.name === 'handed-back').length, 2);
      assert.deepEqual(started, [0]);

      gate.release(0);
      await waitFor(() => events.filter((e) => e.name === 'acked').length === 4, {
        message: 'all four acked',
      });
      // 3 was never held: it was in the queue before 1 and 2 were put back behind it.
      assert.deepEqual(started, [0, 3, 1, 2]);
      assert.equal(events.filter((e) => e.name === 'handed-back').length, 2, 'no more hand-backs');
      await waitFor(async () => (await consumingChannelLimits(fx.env.vhost)).join() === '0', {
        timeoutMs: 10_000,
        message: 'short runs: the channel holds its prefetch again',
      });
    });

    it('when it stops while deliveries wait for a slot, then those go back to the queue at once, for another consumer, while the running one still runs; the running one is acked, and each handed back is reported lost so its return is not taken for a crash', async (t) => {
      const fx = await createFixture(t);
      const { spec, topology } = workQueue();
      const broker = await fx.broker();
      const publisher = fx.publisher(broker, topology);
      const raw = await fx.raw();
      const envelopes = [0, 1, 2, 3].map((n) => pingEnvelope(n));
      for (const e of envelopes) await publisher.publish(EXCHANGES.events, ping.type, e);
      const gate = gates();
      const started: number[] = [];
      const lost: number[] = [];
      const { consumer, events } = await fx.consumer({
        broker,
        queue: spec,
        prefetch: 4,
        concurrency: 1,
        handler: async (envelope) => {
          started.push(pingNumber(envelope));
          await gate.wait(pingNumber(envelope));
        },
        onDeliveryLost: (message) => lost.push(pingNumber(message)),
      });
      // Before the consumers' stops (cleanup runs last in, first out), which wait for their runs.
      fx.defer(() => gate.releaseAll());
      await waitFor(() => consumer.inFlight() === 4, { message: 'four deliveries held' });

      const stopping = consumer.stop();
      await waitFor(async () => (await raw.inspect(WORK_QUEUE)).messageCount === 3, {
        message: 'the three waiting handed back while the first still runs',
      });
      assert.deepEqual(started, [0]);
      assert.deepEqual(lost.sort(), [1, 2, 3]);
      gate.release(0);
      await stopping;

      assert.deepEqual(started, [0], 'nothing handed back was handled here');
      assert.equal(events.filter((e) => e.name === 'acked').length, 1);
      const left = await raw.take(WORK_QUEUE, 3);
      assert.deepEqual(
        left.map((m) => String(m.properties.messageId)).sort(),
        envelopes
          .slice(1)
          .map((e) => e.id)
          .sort(),
      );
    });

    it('when its channel closes while deliveries wait for a slot, then none of them is handled on the dead channel, each is reported lost, and every message is handled once after the broker gives it out again', async (t) => {
      const fx = await createFixture(t);
      const { spec, topology } = workQueue();
      const broker = await fx.broker();
      const watched = watchChannels(broker);
      const publisher = fx.publisher(await fx.broker(), topology);
      const envelopes = [0, 1, 2].map((n) => pingEnvelope(n));
      for (const e of envelopes) await publisher.publish(EXCHANGES.events, ping.type, e);
      let release: () => void = () => {};
      const first = new Promise<void>((resolve) => (release = resolve));
      const calls: { n: number; redelivered: boolean }[] = [];
      const lost: number[] = [];
      const { consumer, events } = await fx.consumer({
        broker: watched.broker,
        queue: spec,
        prefetch: 3,
        concurrency: 1,
        handler: async (envelope, ctx) => {
          calls.push({ n: pingNumber(envelope), redelivered: ctx.redelivered });
          if (calls.length === 1) await first;
        },
        onDeliveryLost: (message) => lost.push(pingNumber(message)),
      });
      fx.defer(() => release()); // before the consumer's stop, which waits for its runs
      await waitFor(() => consumer.inFlight() === 3, { message: 'three deliveries held' });

      watched.closeLast();
      await waitFor(() => lost.length === 3, { message: 'all three reported lost' });
      release(); // the first one's ack goes nowhere: its channel is gone
      await waitFor(() => calls.length >= 4 && consumer.isConsuming(), {
        timeoutMs: 10_000,
        message: 'the messages given out again are handled',
      });
      await waitFor(() => events.filter((e) => e.name === 'acked').length >= 3, {
        message: 'three acks on the new channel',
      });

      assert.deepEqual(lost.sort(), [0, 1, 2]);
      // Once on the old channel (the first, whose ack was lost), then each once, redelivered.
      assert.deepEqual(calls[0], { n: 0, redelivered: false });
      assert.deepEqual(
        calls
          .slice(1)
          .map((c) => c.n)
          .sort(),
        [0, 1, 2],
      );
      assert.ok(calls.slice(1).every((c) => c.redelivered));
    });
  },
);
