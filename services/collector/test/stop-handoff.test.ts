import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NotFoundError, UnavailableError } from '@psc/core';
import { waitFor } from '@psc/testing';
import { createLogger } from '@psc/telemetry';
import { createStopHandoff, type LegacyStop } from '../src/domain/stop-handoff.ts';

const logger = createLogger({
  service: 'collector',
  level: 'error',
  destination: { write: () => undefined },
});

const PLATFORM = '7d1f0c8e-8a51-4d38-9d0b-4c7f0b1f2a3e';
const T0 = new Date('2030-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

/** The stops table before the upgrade, in memory: rows the hand-off reads and forgets. */
function legacyStops(...resources: string[]) {
  const rows = new Map<string, LegacyStop>(
    resources.map((resource) => [
      resource,
      { platformId: PLATFORM, resource, stoppedAt: T0 } satisfies LegacyStop,
    ]),
  );
  return {
    rows,
    pending: () => Promise.resolve([...rows.values()]),
    forget: (stop: LegacyStop) => {
      rows.delete(stop.resource);
      return Promise.resolve();
    },
  };
}

describe('stop hand-off: a collector stop kept before the upgrade', () => {
  it('when the scheduler takes the stop, then runs queued before it took it are still skipped and runs queued after it are not', async () => {
    const stops = legacyStops('races');
    let answer: (() => void) | undefined;
    const handoff = createStopHandoff({
      stops,
      // The scheduler answers when the test lets it, with the time it took the stop.
      handOver: () =>
        new Promise((resolve) => {
          answer = () => resolve({ stoppedAt: at(5_000).toISOString() });
        }),
      taken: () => Promise.resolve([]),
      logger,
    });
    await handoff.start();
    try {
      assert.equal(handoff.holds(PLATFORM, 'races', at(60_000)), true, 'every run, until then');
      assert.equal(handoff.holds(PLATFORM, 'cards', at(0)), false, 'not another collector');
      await waitFor(() => answer !== undefined, { message: 'the hand-over asked' });
      answer!();
      await waitFor(() => stops.rows.size === 0, { message: 'the stop forgotten' });
      assert.equal(handoff.holds(PLATFORM, 'races', at(4_999)), true, 'queued before the stop');
      assert.equal(handoff.holds(PLATFORM, 'races', at(5_000)), true, 'queued as it was taken');
      assert.equal(handoff.holds(PLATFORM, 'races', at(5_001)), false, 'queued after the stop');
    } finally {
      await handoff.stop();
    }
  });

  it('when the scheduler is away at first, then the stop is held while the hand-over is retried, and forgotten once it answers', async () => {
    const stops = legacyStops('races');
    let calls = 0;
    const handoff = createStopHandoff({
      stops,
      handOver: () => {
        calls += 1;
        return calls < 3
          ? Promise.reject(new UnavailableError('scheduler down'))
          : Promise.resolve({ stoppedAt: at(1_000).toISOString() });
      },
      taken: () => Promise.resolve([]),
      logger,
      retryMs: { first: 5, max: 10 },
    });
    await handoff.start();
    try {
      await waitFor(() => stops.rows.size === 0, { message: 'the stop handed over' });
      assert.equal(calls, 3);
      assert.equal(handoff.holds(PLATFORM, 'races', at(500)), true);
      assert.equal(handoff.holds(PLATFORM, 'races', at(1_500)), false);
    } finally {
      await handoff.stop();
    }
  });

  it('when another replica hands the stops over first, then this one takes the time the scheduler took each from the scheduler, and forgets one lifted since', async () => {
    const stops = legacyStops('races', 'cards');
    let asked = 0;
    const handoff = createStopHandoff({
      stops,
      // This replica's calls do not get through; the other replica's do.
      handOver: () => {
        asked += 1;
        return Promise.reject(new UnavailableError('no answer'));
      },
      // The scheduler holds races' stop; cards was started again through the API since.
      taken: () =>
        Promise.resolve([
          { platformId: PLATFORM, resource: 'races', stoppedAt: at(2_000).toISOString() },
        ]),
      logger,
      retryMs: { first: 5, max: 10 },
    });
    await handoff.start();
    try {
      await waitFor(() => asked > 0, { message: 'a hand-over tried' });
      assert.equal(handoff.holds(PLATFORM, 'cards', at(60_000)), true, 'held meanwhile');
      // The other replica handed both over and forgot their rows.
      stops.rows.clear();
      await waitFor(() => !handoff.holds(PLATFORM, 'cards', at(0)), {
        message: 'the lifted stop forgotten',
      });
      assert.equal(handoff.holds(PLATFORM, 'races', at(1_999)), true, 'queued before the stop');
      assert.equal(handoff.holds(PLATFORM, 'races', at(2_001)), false, 'queued after it');
    } finally {
      await handoff.stop();
    }
  });

  it('when the scheduler says the collector no longer exists, then the stop is forgotten and nothing is held', async () => {
    const stops = legacyStops('races');
    const handoff = createStopHandoff({
      stops,
      handOver: () => Promise.reject(new NotFoundError('no collector races')),
      taken: () => Promise.resolve([]),
      logger,
    });
    await handoff.start();
    try {
      await waitFor(() => stops.rows.size === 0, { message: 'the stop dropped' });
      assert.equal(handoff.holds(PLATFORM, 'races', at(0)), false);
    } finally {
      await handoff.stop();
    }
  });
});
