import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../src/config.ts';

const KEY = Buffer.alloc(32, 7).toString('base64');
const base = {
  AMQP_URL: 'amqp://127.0.0.1',
  DATABASE_URL: 'postgres://127.0.0.1/x',
  PSC_WORKER_SECRET_KEY: KEY,
};

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

describe('collector config: PSC_WORKER_SECRET_KEY', () => {
  it('when the key is given as base64 or hex, then the collector holds its 32 bytes', () => {
    assert.deepEqual(loadConfig(base).workerSecretKey, Buffer.alloc(32, 7));
    const hex = Buffer.alloc(32, 9).toString('hex');
    assert.deepEqual(
      loadConfig({ ...base, PSC_WORKER_SECRET_KEY: hex }).workerSecretKey,
      Buffer.alloc(32, 9),
    );
  });

  it('when PSC_WORKER_SECRET_KEY_PREVIOUS lists the keys held before a change, then the collector holds them to open what they sealed, and none without it', () => {
    assert.deepEqual(loadConfig(base).previousWorkerSecretKeys, []);
    const old = Buffer.alloc(32, 8).toString('base64');
    const config = loadConfig({ ...base, PSC_WORKER_SECRET_KEY_PREVIOUS: old });
    assert.deepEqual(config.previousWorkerSecretKeys, [Buffer.alloc(32, 8)]);
    assert.throws(
      () => loadConfig({ ...base, PSC_WORKER_SECRET_KEY_PREVIOUS: `${old},short` }),
      (err: Error) =>
        err.message.includes('PSC_WORKER_SECRET_KEY_PREVIOUS: key 2 of 2 must be 32 bytes') &&
        !err.message.includes(old),
    );
  });

  it('when the key is missing or not 32 bytes, then the collector refuses to start, naming it without echoing it', () => {
    const short = Buffer.alloc(16, 3).toString('base64');
    for (const value of [undefined, short, 'not-a-key']) {
      assert.throws(
        () => loadConfig({ ...base, PSC_WORKER_SECRET_KEY: value }),
        (err: Error) =>
          err.message.includes('PSC_WORKER_SECRET_KEY') &&
          (value === undefined || !err.message.includes(value)),
        String(value),
      );
    }
  });
});
