import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConsumeMessage } from 'amqplib';
import { BUNDLED_TYPES, EXCHANGES, HEADERS, jobSucceeded } from '@psc/contracts';
import {
  baseTopology,
  createOutbox,
  createPublisher,
  MessageTooLargeError,
  type Broker,
  type Outbox,
  type OutboxPart,
  type Publisher,
} from '@psc/messaging';
import { waitFor } from '@psc/testing';
import type { Knex } from '../../db/src/index.ts';
import { createFixture, type Fixture } from './support/fixture.ts';
import { jobOutcome, outboxDatabase, startOutbox, subscribeEvents } from './support/outbox.ts';
import { ping, pingEnvelope } from './support/messages.ts';

const SCHEMA = 'conformance';
const EVENTS_QUEUE = 'conformance.outbox-events';

/** The outbox and a `notes` table for statements that write a row with their messages. */
const database = (fx: Fixture): Promise<Knex> =>
  outboxDatabase(fx, SCHEMA, async (k) => {
    await k.schema.withSchema(SCHEMA).createTable('notes', (t) => {
      t.integer('n').primary();
    });
  });

function outboxFor(
  fx: Fixture,
  knex: Knex,
  broker: Broker,
  extra: { deleteDelayMs?: number; sweepAgeMs?: number; bundleMs?: number } = {},
): Outbox {
  return startOutbox(fx, knex, broker, SCHEMA, extra);
}

/** Every message published to the events exchange for `type`, as seen by a plain subscriber. */
const subscribe = (fx: Fixture, type: string = ping.type): Promise<ConsumeMessage[]> =>
  subscribeEvents(fx, EVENTS_QUEUE, type);

const ids = (messages: ConsumeMessage[]): string[] =>
  messages.map((m) => String(m.properties.messageId));

function emitPing(n: number) {
  const envelope = pingEnvelope(n);
  return { exchange: EXCHANGES.events, routingKey: ping.type, envelope };
}

describe('outbox', { concurrency: true, timeout: 30_000 }, () => {
  it('when a transaction commits, then the messages it emitted are published', async (t) => {
    const fx = await createFixture(t);
    const knex = await database(fx);
    const seen = await subscribe(fx);
    const outbox = outboxFor(fx, knex, await fx.broker());
    const messages = [emitPing(1), emitPing(2)];

    await outbox.transaction(async (trx, emit) => {
      await trx('notes').insert({ n: 1 });
      messages.forEach(emit);
    });

    await waitFor(() => seen.length >= 2, { message: 'both messages published' });
    assert.deepEqual(
      ids(seen),
      messages.map((m) => m.envelope.id),
    );
    assert.deepEqual(JSON.parse(seen[0]?.content.toString('utf8') ?? ''), messages[0]?.envelope);
    await waitFor(async () => (await outbox.pending()) === 0, { message: 'outbox drained' });
  });

  it('when messages ride along the caller’s own statement, then they are published in order after its commit, and never after its rollback', async (t) => {
    const fx = await createFixture(t);
    const knex = await database(fx);
    const seen = await subscribe(fx);
    const outbox = outboxFor(fx, knex, await fx.broker());
    const write = (n: number, messages: ReturnType<typeof emitPing>[]) =>
      knex.transaction(async (trx) => {
        const along = outbox.along(trx, messages)!;
        const { rows } = await trx.raw<{ rows: { outbox_seqs: string[] }[] }>(
          `with ${along.cte}, note as (insert into ${SCHEMA}.notes (n) values (?) returning n)
           select ${along.seqs} as outbox_seqs, (select n from note) as n`,
          [...along.bindings, n],
        );
        along.inserted(rows[0]!.outbox_seqs);
        if (n < 0) throw new Error('rolled back after the statement');
      });
    const doomed = [emitPing(100)];
    await assert.rejects(write(-1, doomed), /rolled back/);
    const kept = [emitPing(101), emitPing(102), emitPing(103)];
    await write(1, kept);

    await waitFor(() => seen.length >= 3, { message: 'the committed messages published' });
    assert.deepEqual(
      ids(seen),
      kept.map((m) => m.envelope.id),
    );
    assert.deepEqual(JSON.parse(seen[2]?.content.toString('utf8') ?? ''), kept[2]?.envelope);
    await waitFor(async () => (await outbox.pending()) === 0, { message: 'outbox drained' });
    assert.deepEqual(await knex.withSchema(SCHEMA).table('notes').select('n'), [{ n: 1 }]);
    // eslint-disable-next-line @typescript-eslint/require-await -- knex commits when it resolves
    await knex.transaction(async (trx) => {
      assert.equal(outbox.along(trx, []), undefined, 'nothing to write, no statement part');
    });
  });

  it('when messages keep flowing, then the rows published within the delete window are deleted together by one statement of their own, and no write carries a delete', async (t) => {
    const fx = await createFixture(t);
    const knex = await database(fx);
    const seen = await subscribe(fx);
    // A window far longer than the five publishes take, and no sweep.
    const outbox = outboxFor(fx, knex, await fx.broker(), {
      deleteDelayMs: 2_000,
      sweepAgeMs: 60_000,
    });
    const statements: string[] = [];
    knex.on('query', (q: { sql: string }) => statements.push(q.sql));

    const sent = [1, 2, 3, 4, 5].map(emitPing);
    for (const m of sent) await outbox.transaction((_trx, emit) => emit(m));
    await waitFor(() => seen.length === sent.length, { message: 'all five published' });
    await waitFor(async () => (await outbox.pending()) === 0, { message: 'outbox drained' });

    const deletes = statements.filter((sql) => /delete from \S+\.outbox/.test(sql));
    assert.equal(deletes.length, 1, 'one delete for the five rows');
    assert.ok(
      statements.filter((sql) => sql.includes('insert into')).every((sql) => !/delete/.test(sql)),
      'the writes carry no delete',
    );
    assert.deepEqual(
      ids(seen),
      sent.map((m) => m.envelope.id),
    );
  });

  it('when job outcomes are committed one after another, then the first goes at once and those of the next window go together as one bundle, each envelope once', async (t) => {
    assert.ok(BUNDLED_TYPES.has(jobSucceeded.type), 'job.succeeded is bundled');
    assert.ok(!BUNDLED_TYPES.has(ping.type));
    const fx = await createFixture(t);
    const knex = await database(fx);
    const seen = await subscribe(fx, jobSucceeded.type);
    // A window far longer than the test's writes take: only the bundling can group them.
    const outbox = outboxFor(fx, knex, await fx.broker(), { bundleMs: 2_000 });
    const sent = Array.from({ length: 6 }, () => jobOutcome());
    await outbox.emit([sent[0]!]);
    await waitFor(() => seen.length === 1, { message: 'the first outcome published alone' });
    for (const m of sent.slice(1)) await outbox.emit([m]);

    const envelopes = () =>
      seen.flatMap((m): { id: string }[] => {
        const body = JSON.parse(m.content.toString('utf8')) as { id: string } | { id: string }[];
        return Array.isArray(body) ? body : [body];
      });
    await waitFor(() => envelopes().length === sent.length, { message: 'every outcome published' });
    assert.deepEqual(
      envelopes().map((e) => e.id),
      sent.map((m) => m.envelope.id),
    );
    assert.equal(seen.length, 2, 'the five later outcomes went as one message');
    assert.equal(seen[1]?.properties.headers?.[HEADERS.bundle], 5);
    assert.equal(seen[1]?.properties.type, jobSucceeded.type);
    await waitFor(async () => (await outbox.pending()) === 0, { message: 'outbox drained' });
  });

  it('when a caller’s statement sets a value into a body as it is stored, then the message published from memory carries that value, alone or bundled', async (t) => {
    const fx = await createFixture(t);
    const knex = await database(fx);
    const seen = await subscribe(fx, jobSucceeded.type);
    const outbox = outboxFor(fx, knex, await fx.broker(), { bundleMs: 2_000 });
    // As the job runner does: the statement counts, the stored row gets the count in SQL and
    // the envelope in memory gets it from the statement's answer.
    const counted = async (n: number) => {
      const message = jobOutcome();
      const payload = message.envelope.payload as { stats: { fetched: number } };
      await outbox.emit(
        [message],
        async (part) => {
          const { rows } = await knex.raw<{ rows: { fetched: number; outbox_seqs: string[] }[] }>(
            `with counted as (select ?::int as fetched), ${part.cte}
             select (select fetched from counted) as fetched, ${part.seqs} as outbox_seqs`,
            [n, ...part.bindings],
          );
          payload.stats.fetched = rows[0]!.fetched;
          return rows[0]!.outbox_seqs;
        },
        {
          index: 0,
          path: ['payload', 'stats', 'fetched'],
          sql: '(select to_jsonb(fetched) from counted)',
        },
      );
      return message.envelope.id;
    };
    const sent = [await counted(40)];
    await waitFor(() => seen.length === 1, { message: 'the first outcome published alone' });
    sent.push(await counted(41), await counted(42));

    const envelopes = () =>
      seen.flatMap((m): { id: string; payload: { stats: { fetched: number } } }[] => {
        const body = JSON.parse(m.content.toString('utf8')) as
          | { id: string; payload: { stats: { fetched: number } } }
          | { id: string; payload: { stats: { fetched: number } } }[];
        return Array.isArray(body) ? body : [body];
      });
    await waitFor(() => envelopes().length === 3, { message: 'every outcome published' });
    assert.equal(seen.length, 2, 'the later two went as one bundle');
    assert.deepEqual(
      envelopes().map((e) => [e.id, e.payload.stats.fetched]),
      [
        [sent[0], 40],
        [sent[1], 41],
        [sent[2], 42],
      ],
    );
  });

  it('when messages are emitted outside a transaction, then each is published once, in order', async (t) => {
    const fx = await createFixture(t);
    const knex = await database(fx);
    const seen = await subscribe(fx);
    const outbox = outboxFor(fx, knex, await fx.broker());
    const first = emitPing(10);
    const second = emitPing(11);

    await outbox.emit([first]);
    await outbox.emit([second]);

    await waitFor(() => seen.length >= 2, { message: 'both messages published' });
    await waitFor(async () => (await outbox.pending()) === 0, { message: 'outbox drained' });
    assert.deepEqual(ids(seen), [first.envelope.id, second.envelope.id]);
  });

  it('when a caller’s own statement writes a row with its messages, then both are stored and published, and a statement that fails stores and publishes neither', async (t) => {
    const fx = await createFixture(t);
    const knex = await database(fx);
    const seen = await subscribe(fx);
    const outbox = outboxFor(fx, knex, await fx.broker());
    const withNote = (n: number) => async (part: OutboxPart) => {
      const { rows } = await knex.raw<{ rows: { outbox_seqs: string[] | null }[] }>(
        `with ${part.cte}, note as (insert into ${SCHEMA}.notes (n) values (?))
         select ${part.seqs} as outbox_seqs`,
        [...part.bindings, n],
      );
      return rows[0]?.outbox_seqs ?? null;
    };
    const first = emitPing(1);
    const twice = emitPing(2);
    const sentinel = emitPing(3);

    await outbox.emit([first], withNote(5));
    // The note's key is taken: the statement fails, its message with it.
    await assert.rejects(outbox.emit([twice], withNote(5)), /duplicate key/);
    assert.deepEqual(await knex.withSchema(SCHEMA).table('notes').select('n'), [{ n: 5 }]);
    await outbox.emit([sentinel], withNote(6));

    await waitFor(() => seen.length >= 2, { message: 'both messages published' });
    await waitFor(async () => (await outbox.pending()) === 0, { message: 'outbox drained' });
    assert.deepEqual(ids(seen), [first.envelope.id, sentinel.envelope.id]);
  });

  it('when a transaction rolls back, then nothing it emitted is published', async (t) => {
    const fx = await createFixture(t);
    const knex = await database(fx);
    const seen = await subscribe(fx);
    const outbox = outboxFor(fx, knex, await fx.broker());
    const doomed = emitPing(1);

    await assert.rejects(
      outbox.transaction(async (trx, emit) => {
        await trx('notes').insert({ n: 1 });
        emit(doomed);
        throw new Error('business rule says no');
      }),
      /business rule says no/,
    );
    assert.equal(await outbox.pending(), 0);
    assert.deepEqual(await knex.withSchema(SCHEMA).table('notes').select('n'), []);
    // The relay keeps order: had the rolled-back message gone out, it would precede this one.
    const sentinel = emitPing(2);
    await outbox.transaction((_trx, emit) => emit(sentinel));
    await waitFor(() => seen.length >= 1, { message: 'sentinel published' });

    assert.deepEqual(ids(seen), [sentinel.envelope.id]);
  });

  it('when the broker is down, then the transaction commits, pending() counts the rows, and after restore each message arrives exactly once', async (t) => {
    const fx = await createFixture(t);
    const knex = await database(fx);
    const seen = await subscribe(fx);
    const { proxy, amqpUrl } = await fx.proxy();
    const broker = await fx.broker({ url: amqpUrl });
    const outbox = outboxFor(fx, knex, broker);
    const messages = [emitPing(1), emitPing(2), emitPing(3)];

    proxy.cut();
    await waitFor(() => !broker.isConnected(), { message: 'broker to notice the cut' });
    await outbox.transaction(async (trx, emit) => {
      await trx('notes').insert({ n: 7 });
      messages.forEach(emit);
    });

    assert.deepEqual(await knex.withSchema(SCHEMA).table('notes').select('n'), [{ n: 7 }]);
    assert.equal(await outbox.pending(), 3);
    assert.equal(seen.length, 0);

    proxy.restore();
    await waitFor(async () => (await outbox.pending()) === 0, { message: 'outbox drained' });
    // Anything the relay published sits before this sentinel on the same channel.
    const sentinel = emitPing(4);
    await outbox.transaction((_trx, emit) => emit(sentinel));
    await waitFor(() => ids(seen).includes(sentinel.envelope.id), { message: 'sentinel' });

    const counts = new Map<string, number>();
    for (const id of ids(seen)) counts.set(id, (counts.get(id) ?? 0) + 1);
    assert.deepEqual(
      Object.fromEntries(counts),
      Object.fromEntries([...messages, sentinel].map((m) => [m.envelope.id, 1])),
    );
  });

  it('when a message is larger than the broker takes, then writing it fails the transaction with the limit named, and nothing of it is kept', async (t) => {
    const fx = await createFixture(t);
    const knex = await database(fx);
    const outbox = outboxFor(fx, knex, await fx.broker());
    const huge = {
      exchange: EXCHANGES.events,
      routingKey: ping.type,
      envelope: { ...pingEnvelope(1), payload: { n: 1, blob: 'x'.repeat(1_100_000) } },
    };

    await assert.rejects(
      outbox.transaction(async (trx, emit) => {
        await trx.withSchema(SCHEMA).table('notes').insert({ n: 7 });
        emit(huge);
      }),
      (err: unknown) =>
        err instanceof MessageTooLargeError && /exceeds the 1048576-byte cap/.test(err.message),
    );
    assert.equal(await outbox.pending(), 0);
    assert.equal((await knex.withSchema(SCHEMA).table('notes')).length, 0, 'rolled back');
  });

  it('when a message can never be routed, then after its tries it is parked with the reason and the messages behind it are published', async (t) => {
    const fx = await createFixture(t);
    const knex = await database(fx);
    const seen = await subscribe(fx);
    const outbox = outboxFor(fx, knex, await fx.broker());
    // psc.work has no queue for this key, and publishes are mandatory: the broker returns it.
    const lost = {
      exchange: EXCHANGES.jobs,
      routingKey: 'no-such-task',
      envelope: pingEnvelope(1),
    };
    const fine = [emitPing(2), emitPing(3)];

    await outbox.emit([lost]);
    await outbox.emit(fine);

    await waitFor(() => seen.length >= 2, { message: 'the messages behind it published' });
    const parked = await waitFor(async () => (await outbox.parked(10))[0], {
      message: 'the unroutable message parked',
    });
    assert.equal(parked.messageId, lost.envelope.id);
    assert.equal(parked.routingKey, 'no-such-task');
    assert.equal(parked.attempts, 3);
    assert.match(parked.reason, /no queue is bound/);
    assert.equal(await outbox.pending(), 0);
    assert.deepEqual(
      ids(seen),
      fine.map((m) => m.envelope.id),
    );
  });

  it('when the broker refuses every publish (a queue full with reject-publish), then the rows are kept without a try counted, none is parked, and once it takes them again each is published once', async (t) => {
    const fx = await createFixture(t);
    const knex = await database(fx);
    const raw = await fx.raw();
    await raw.channel.assertExchange(EXCHANGES.unrouted, 'fanout', { durable: true });
    await raw.channel.assertExchange(EXCHANGES.events, 'topic', {
      durable: true,
      alternateExchange: EXCHANGES.unrouted,
    });
    // What a max-length policy with `overflow: reject-publish` does: every publish is nacked.
    await raw.channel.assertQueue(EVENTS_QUEUE, {
      arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish' },
    });
    await raw.channel.bindQueue(EVENTS_QUEUE, EXCHANGES.events, ping.type);
    const broker = await fx.broker();
    const real = createPublisher({ broker, topology: baseTopology, appId: 'conformance' });
    fx.defer(() => real.close());
    const refusals: unknown[] = [];
    const publisher: Publisher = {
      publish: (...args) =>
        real.publish(...args).catch((err: unknown) => {
          refusals.push(err);
          throw err;
        }),
      publishBundle: (...args) => real.publishBundle(...args),
      close: () => real.close(),
    };
    const maxAttempts = 2;
    const outbox = createOutbox({
      knex,
      schema: SCHEMA,
      publisher,
      logger: fx.logger,
      isBrokerConnected: () => broker.isConnected(),
      pollIntervalMs: 50,
      sweepAgeMs: 0,
      maxAttempts,
    });
    fx.defer(() => outbox.stop());
    outbox.start();
    const sent = [emitPing(1), emitPing(2)];

    await outbox.emit(sent);
    // Each row tried more often than it may fail before it is parked.
    await waitFor(() => refusals.length >= sent.length * (maxAttempts + 2), {
      timeoutMs: 20_000,
      message: 'the rows tried again and again',
    });
    assert.match(String(refusals[0]), /PublishRefusedError: RabbitMQ refused the message/);
    assert.deepEqual(await outbox.parked(10), [], 'nothing parked');
    assert.equal(await outbox.pending(), sent.length, 'every row kept');

    // The queue takes messages again.
    await raw.channel.deleteQueue(EVENTS_QUEUE);
    const seen = await subscribe(fx);
    await waitFor(() => seen.length >= sent.length && outbox.pending().then((n) => n === 0), {
      timeoutMs: 20_000,
      message: 'every row published once the broker takes it',
    });
    assert.deepEqual(ids(seen).sort(), sent.map((m) => m.envelope.id).sort());
  });
});
