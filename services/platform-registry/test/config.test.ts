import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../src/config.ts';

const key = (fill: number) => Buffer.alloc(32, fill).toString('base64');
const base = { PSC_SECRET_KEY: key(1), PSC_WORKER_SECRET_KEY: key(2) };

describe('platform-registry config: the two keys', () => {
  it('when both keys are given, then the registry holds each', () => {
    const config = loadConfig(base);
    assert.deepEqual(config.secretKey, Buffer.alloc(32, 1));
    assert.deepEqual(config.workerSecretKey, Buffer.alloc(32, 2));
  });

  it('when PSC_WORKER_SECRET_KEY is missing or not 32 bytes, then the registry refuses to start, naming it', () => {
    for (const value of [undefined, Buffer.alloc(31, 2).toString('base64')]) {
      assert.throws(
        () => loadConfig({ ...base, PSC_WORKER_SECRET_KEY: value }),
        /PSC_WORKER_SECRET_KEY: (required|must be 32 bytes)/,
      );
    }
  });

  it('when the worker key is the at-rest key, then the registry refuses to start: the workers could open the stored credentials', () => {
    assert.throws(
      () => loadConfig({ ...base, PSC_WORKER_SECRET_KEY: Buffer.alloc(32, 1).toString('hex') }),
      (err: Error) =>
        err.message.includes('PSC_WORKER_SECRET_KEY: must differ from PSC_SECRET_KEY') &&
        !err.message.includes(key(1)),
    );
  });
});
