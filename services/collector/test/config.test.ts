import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../src/config.ts';

const base = { AMQP_URL: 'amqp://127.0.0.1', DATABASE_URL: 'postgres://127.0.0.1/x' };

describe('collector config: PSC_COLLECTOR_STAGES', () => {
  it('when no stages are set, then a collector runs both', () => {
    assert.deepEqual(loadConfig(base).stages, ['index', 'children']);
  });

  it('when one stage is set, then the collector runs only that one', () => {
    assert.deepEqual(loadConfig({ ...base, PSC_COLLECTOR_STAGES: 'children' }).stages, [
      'children',
    ]);
    assert.deepEqual(loadConfig({ ...base, PSC_COLLECTOR_STAGES: ' index , index' }).stages, [
      'index',
    ]);
  });

  it('when a stage is misspelt or none is given, then the collector refuses to start, naming the setting', () => {
    for (const value of ['children,fanout', ',', 'all']) {
      assert.throws(
        () => loadConfig({ ...base, PSC_COLLECTOR_STAGES: value }),
        (err: Error) => err.message.includes('PSC_COLLECTOR_STAGES'),
        value,
      );
    }
  });
});
