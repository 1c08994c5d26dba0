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

  it('when PSC_SECRET_KEY_PREVIOUS lists the keys of earlier rotations, then the registry holds them to open what they sealed, and none without it', () => {
    assert.deepEqual(loadConfig(base).previousSecretKeys, []);
    const config = loadConfig({
      ...base,
      PSC_SECRET_KEY_PREVIOUS: ` ${key(3)}, ${Buffer.alloc(32, 4).toString('hex')} `,
    });
    assert.deepEqual(config.previousSecretKeys, [Buffer.alloc(32, 3), Buffer.alloc(32, 4)]);
  });

  it('when PSC_SECRET_KEY_PREVIOUS holds a bad key, the current key or the worker key, then the registry refuses to start, saying which without echoing a key', () => {
    const refused = (previous: string, message: string) =>
      assert.throws(
        () => loadConfig({ ...base, PSC_SECRET_KEY_PREVIOUS: previous }),
        (err: Error) =>
          err.message.includes(`PSC_SECRET_KEY_PREVIOUS: ${message}`) &&
          !err.message.includes(key(1)) &&
          !err.message.includes(key(2)) &&
          !err.message.includes('not-a-key'),
      );
    refused(`${key(3)},not-a-key`, 'key 2 of 2 must be 32 bytes');
    refused(`${key(3)},${key(1)}`, 'must not hold PSC_SECRET_KEY');
    refused(key(2), 'must not hold PSC_WORKER_SECRET_KEY');
  });
});
