import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '@psc/core';
import { loadConfig } from '../src/config.ts';

describe('scheduler configuration', () => {
  it('when the leader lease is no longer than a tick, then the scheduler refuses to start, naming both; a lease of more than a tick, or the default of 3 ticks, is taken', () => {
    for (const lease of ['500', '1000']) {
      assert.throws(
        () => loadConfig({ PSC_SCHEDULER_TICK_MS: '1000', PSC_SCHEDULER_LEASE_MS: lease }),
        (err: unknown) =>
          err instanceof ConfigError &&
          !err.message.includes('\n') &&
          err.message.includes(`PSC_SCHEDULER_LEASE_MS (${lease}) must be more than`) &&
          err.message.includes('PSC_SCHEDULER_TICK_MS (1000)'),
        `lease ${lease} ms`,
      );
    }
    assert.equal(
      loadConfig({ PSC_SCHEDULER_TICK_MS: '1000', PSC_SCHEDULER_LEASE_MS: '1500' }).scheduler
        .leaseMs,
      1_500,
    );
    assert.equal(loadConfig({ PSC_SCHEDULER_TICK_MS: '2000' }).scheduler.leaseMs, 6_000);
  });
});
