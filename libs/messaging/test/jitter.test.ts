import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  JITTER_STEPS,
  backoffDelay,
  deferredByDelay,
  deferredDelay,
  delayLadder,
  jitteredDelay,
} from '@psc/messaging';

describe('retry jitter', () => {
  it('when tiers are set, then each one has a delay queue per step and every draw is one of them', () => {
    const ladder = delayLadder([1_000, 5_000]);
    assert.deepEqual(ladder.slice(0, JITTER_STEPS), [125, 250, 375, 500, 625, 750, 875, 1_000]);
    assert.equal(ladder.at(-1), 5_000);
    for (let i = 0; i < 100; i += 1) {
      assert.ok(ladder.includes(jitteredDelay(5_000, ladder, Math.random)));
    }
  });

  it('when random draws span [0, 1), then delays span the whole tier evenly', () => {
    const ladder = delayLadder([8_000]);
    const draws = Array.from({ length: 8 }, (_, k) => jitteredDelay(8_000, ladder, () => k / 8));
    assert.deepEqual(draws, [1_000, 2_000, 3_000, 4_000, 5_000, 6_000, 7_000, 8_000]);
  });

  it('when a delivery is deferred, then it never comes back sooner than asked, and at most twice as late', () => {
    const ladder = delayLadder([1_000, 5_000, 30_000]);
    for (let i = 0; i < 100; i += 1) {
      const d = deferredDelay(3_000, ladder, Math.random);
      assert.ok(d >= 3_000 && d <= 6_000 && ladder.includes(d), `deferred ${d} ms`);
    }
    assert.equal(
      deferredDelay(60_000, ladder, () => 0.5),
      30_000,
      'capped at the longest',
    );
  });

  it('when a deferred job holds a booked turn, then it comes back by then, as late as the delay queues allow', () => {
    const ladder = delayLadder([1_000, 5_000, 30_000]);
    assert.equal(deferredByDelay(7_400, ladder), 5_000);
    assert.equal(deferredByDelay(2_400, ladder), 1_875);
    assert.equal(deferredByDelay(30_000, ladder), 30_000);
    assert.equal(deferredByDelay(90_000, ladder), 30_000, 'capped at the longest');
    assert.equal(deferredByDelay(100, ladder), 125, 'no shorter delay queue than the first');
  });

  it('when a delivery keeps being deferred with backoff, then each delay is twice the one before, up to 8 times the first', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 50].map((before) => backoffDelay(1_000, before)),
      [1_000, 2_000, 4_000, 8_000, 8_000, 8_000],
    );
    assert.equal(backoffDelay(1_000, -3), 1_000, 'a bad count is taken as none');
  });

  it('when a platform says Retry-After, then the delay is at least that long', () => {
    const ladder = delayLadder([1_000, 5_000]);
    assert.equal(
      jitteredDelay(1_000, ladder, () => 0, 2_000),
      2_500,
    );
    assert.equal(
      jitteredDelay(1_000, ladder, () => 0, 60_000),
      5_000,
      'capped at the longest',
    );
  });
});
