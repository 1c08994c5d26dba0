import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it, type TestContext } from 'node:test';
import knexFactory from 'knex';
import pino from 'pino';
import { createIsolatedEnv } from '@psc/testing';
import { PlatformDeferral, createFetcherTables, createRateTickets } from '../src/index.ts';
import { createPlatformLimiter } from '../src/platform-limiter.ts';

const SCHEMA = 'limits';

async function setup(t: TestContext) {
  const isolated = await createIsolatedEnv({ name: 'platform-limiter' });
  const knex = knexFactory({ client: 'pg', connection: isolated.databaseUrl, pool: { max: 8 } });
  t.after(async () => {
    await knex.destroy();
    await isolated.cleanup();
  });
  await knex.schema.createSchema(SCHEMA);
  await createFetcherTables(knex, SCHEMA);
  await createRateTickets(knex, SCHEMA);
  const limiter = createPlatformLimiter(knex, SCHEMA);
  const platform = { id: randomUUID(), name: 'slow' };
  /** Another replica of the service: its own pool, the same tables, hearing freed slots. */
  const replica = async () => {
    const own = knexFactory({ client: 'pg', connection: isolated.databaseUrl, pool: { max: 4 } });
    // No recheck within the test: a waiting request gets a slot only by hearing it freed.
    const other = createPlatformLimiter(own, SCHEMA, {
      logger: pino({ level: 'silent' }),
      recheckMs: 10 * 60_000,
    });
    await other.start();
    t.after(async () => {
      await other.stop();
      await own.destroy();
    });
    return { limiter: other };
  };
  const tickets = async () =>
    (
      await knex(`${SCHEMA}.rate_tickets`)
        .where({ platform_id: platform.id })
        .orderBy('turn_at')
        .select('holder')
    ).map((r: { holder: string }) => r.holder);
  return { knex, limiter, platform, tickets, replica };
}

type Limiter = ReturnType<typeof createPlatformLimiter>;

/**
 * A call under the limiter that holds its request slot from the moment it runs (`entered`)
 * until `free()`; `step` hears it go in and out.
 */
function holdSlot(
  limiter: Limiter,
  platform: { id: string; name: string },
  limits: { requestsPerSecond: number; concurrency: number },
  step: (at: 'in' | 'out') => void = () => undefined,
) {
  let free: () => void = () => undefined;
  let inside: () => void = () => undefined;
  const entered = new Promise<void>((resolve) => (inside = resolve));
  const done = limiter.run(
    platform,
    limits,
    60_000,
    () =>
      new Promise<void>((resolve) => {
        step('in');
        inside();
        free = () => {
          step('out');
          resolve();
        };
      }),
  );
  return { entered, done, free: () => free() };
}

/** What a call under the limiter ended in: its deferral, or the order it ran in. */
async function outcome(p: Promise<unknown>): Promise<PlatformDeferral | 'ran'> {
  try {
    await p;
    return 'ran';
  } catch (err) {
    assert.ok(err instanceof PlatformDeferral, String(err));
    return err;
  }
}

describe('@psc/platform-http: platform limiter', { timeout: 30_000 }, () => {
  it('when first requests would wait past the bound for their turn, then their jobs are deferred by a turn booked for each, which each gets when it is back, ahead of later arrivals', async (t) => {
    const { limiter, platform, tickets } = await setup(t);
    const limits = { requestsPerSecond: 1, concurrency: 4 };
    const ran: string[] = [];
    const call = (holder: string, maxWaitMs: number) =>
      limiter.run(
        platform,
        limits,
        10_000,
        () => {
          ran.push(holder);
          return Promise.resolve();
        },
        { bound: { holder, maxWaitMs } },
      );

    assert.equal(await outcome(call('a', 300)), 'ran', 'the first one has its turn at once');
    const b = await outcome(call('b', 300));
    const c = await outcome(call('c', 300));
    assert.ok(
      b instanceof PlatformDeferral && c instanceof PlatformDeferral,
      'the next two would wait',
    );
    assert.ok(b.by && c.by, 'each comes back by its booked turn');
    assert.equal(b.reason, 'rate');
    assert.match(b.message, /platform slow is rate-limited: this job's turn is in \d+\.\d s/);
    assert.ok(b.delayMs <= 1_000 && c.delayMs > b.delayMs, `turns ${b.delayMs}, ${c.delayMs} ms`);
    assert.deepEqual(await tickets(), ['b', 'c']);

    const early = await outcome(call('b', 100));
    assert.ok(early instanceof PlatformDeferral, 'b, back too early, is deferred again');
    assert.ok(early.delayMs <= b.delayMs, 'by the turn it holds, not a new one');
    assert.deepEqual(await tickets(), ['b', 'c'], 'and books nothing new');

    // d arrives with no booking: its turn comes after c's. b, back in time, takes its own.
    const [dRan, bRan] = await Promise.all([outcome(call('d', 5_000)), outcome(call('b', 5_000))]);
    assert.deepEqual([dRan, bRan], ['ran', 'ran']);
    assert.deepEqual(ran, ['a', 'b', 'd'], 'b ran in its booked turn, before d');
    assert.deepEqual(await tickets(), ['c'], 'b’s booking is used up; c keeps its own');
  });

  it('when runs holding booked turns are cancelled, then the next requests take their freed turns, earliest first, instead of waiting behind them', async (t) => {
    const { limiter, platform, tickets } = await setup(t);
    const limits = { requestsPerSecond: 1, concurrency: 4 };
    const call = (holder: string) =>
      limiter.run(platform, limits, 10_000, () => Promise.resolve(), {
        bound: { holder, maxWaitMs: 300 },
      });

    assert.equal(await outcome(call('a/1')), 'ran');
    // b's run, c's run, a fan-out child of d's run, and e's run book the next four turns.
    const booked = new Map<string, PlatformDeferral>();
    for (const holder of ['b/1', 'c/1', 'd/1/0', 'e/1']) {
      const deferred = await outcome(call(holder));
      assert.ok(deferred instanceof PlatformDeferral, `${holder} is deferred`);
      booked.set(holder, deferred);
    }
    await limiter.release('b/1');
    await limiter.release('d/1');
    assert.deepEqual(await tickets(), ['free:b/1', 'c/1', 'free:d/1/0', 'e/1']);

    // Without the freed turns f would come after e's, 5 s out; it gets b's (about 1 s out).
    const f = await outcome(call('f/1'));
    assert.ok(f instanceof PlatformDeferral && f.by);
    assert.ok(f.delayMs <= booked.get('b/1')!.delayMs, `f's turn is in ${f.delayMs} ms`);
    const g = await outcome(call('g/1'));
    assert.ok(g instanceof PlatformDeferral);
    assert.ok(
      g.delayMs > booked.get('c/1')!.delayMs - 300 && g.delayMs <= booked.get('d/1/0')!.delayMs,
      `g takes d's child's turn: ${g.delayMs} ms`,
    );
    assert.deepEqual(await tickets(), ['f/1', 'c/1', 'g/1', 'e/1'], 'no turn left free');
    const h = await outcome(call('h/1'));
    assert.ok(h instanceof PlatformDeferral);
    assert.ok(h.delayMs > booked.get('e/1')!.delayMs, 'the next one goes after the last turn');
  });

  it('when a later page of a job under way needs a turn while deferred jobs hold booked ones, then it takes the earliest booked turn and that booking moves after it, so the job under way does not wait behind them all', async (t) => {
    const { limiter, platform, tickets } = await setup(t);
    const limits = { requestsPerSecond: 1, concurrency: 4 };
    const ran: string[] = [];
    const call = (name: string, bound?: { holder: string; maxWaitMs: number }) =>
      limiter.run(
        platform,
        limits,
        10_000,
        () => {
          ran.push(name);
          return Promise.resolve();
        },
        { bound },
      );

    assert.equal(await outcome(call('a', { holder: 'a', maxWaitMs: 300 })), 'ran');
    for (const holder of ['b', 'c']) {
      const deferred = await outcome(call(holder, { holder, maxWaitMs: 300 }));
      assert.ok(deferred instanceof PlatformDeferral, `${holder} is deferred`);
    }
    assert.deepEqual(await tickets(), ['b', 'c'], 'b and c booked the next two turns');

    assert.equal(await outcome(call('page')), 'ran');
    assert.deepEqual(await tickets(), ['c', 'b'], 'the page took b’s turn; b’s is after c’s now');
    const b = await outcome(call('b', { holder: 'b', maxWaitMs: 300 }));
    assert.ok(b instanceof PlatformDeferral && b.by, 'b, back by its old turn, is deferred again');
    assert.equal(await outcome(call('c', { holder: 'c', maxWaitMs: 5_000 })), 'ran');
    assert.deepEqual(ran, ['a', 'page', 'c']);
  });

  it('when every request slot of the platform stays taken past the bound, then a first request is deferred with nothing booked, and a later page waits for the slot', async (t) => {
    const { limiter, platform, tickets } = await setup(t);
    const limits = { requestsPerSecond: 100, concurrency: 1 };
    const held = holdSlot(limiter, platform, limits);
    await held.entered;

    const first = await outcome(
      limiter.run(platform, limits, 10_000, () => Promise.resolve(), {
        bound: { holder: 'x', maxWaitMs: 100 },
      }),
    );
    assert.ok(first instanceof PlatformDeferral && !first.by, 'deferred, to come back later');
    assert.match(first.message, /platform slow is busy: its 1 request slots are taken/);
    assert.equal(first.reason, 'slots');
    assert.deepEqual(await tickets(), [], 'nothing booked');

    let laterPage = false;
    const waiting = limiter.run(platform, limits, 10_000, () => {
      laterPage = true;
      return Promise.resolve();
    });
    held.free();
    await held.done;
    await waiting;
    assert.ok(laterPage, 'the unbounded request ran once the slot was free');
  });

  it('when a request waits for the only request slot and another replica frees it, then the request takes it as it is freed, and a request of the same replica takes a slot its neighbour frees', async (t) => {
    const { platform, replica } = await setup(t);
    const limits = { requestsPerSecond: 1_000, concurrency: 1 };
    const a = await replica();
    const b = await replica();
    const order: string[] = [];
    const hold = (limiter: Limiter, name: string) =>
      holdSlot(limiter, platform, limits, (step) => order.push(`${name} ${step}`));
    /** Polls until `limiter` has `n` requests waiting for the platform's slot. */
    const waitingFor = async (limiter: Limiter, n: number) => {
      const deadline = Date.now() + 10_000;
      while ((limiter.waiting().find((w) => w.platformId === platform.id)?.count ?? 0) < n) {
        assert.ok(Date.now() < deadline, `${n} requests waiting`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };

    const first = hold(a.limiter, 'a1');
    await first.entered;
    const second = hold(b.limiter, 'b1');
    const third = hold(b.limiter, 'b2');
    await waitingFor(b.limiter, 2);
    first.free();
    await first.done;
    // b1 or b2 takes the slot a freed; which one is up to PostgreSQL.
    const next = await Promise.race([
      second.entered.then(() => second),
      third.entered.then(() => third),
    ]);
    const last = next === second ? third : second;
    next.free();
    await next.done;
    await last.entered;
    last.free();
    await Promise.all([second.done, third.done]);
    assert.deepEqual(order.slice(0, 2), ['a1 in', 'a1 out']);
    assert.equal(order.length, 6);
    for (let i = 2; i < 6; i += 2) {
      assert.match(order[i]!, / in$/);
      assert.equal(order[i + 1], order[i]!.replace(' in', ' out'), 'one holder at a time');
    }
  });
});
