import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StopFailedError, stopInOrder } from '@psc/core';

describe('stopInOrder (how every service stops its parts)', () => {
  it('when every step stops, then they run one after another in order', async () => {
    const log: string[] = [];
    const step = (name: string) => async () => {
      log.push(`${name} begins`);
      await new Promise((r) => setImmediate(r));
      log.push(`${name} ends`);
    };
    await stopInOrder(
      [
        ['consumers', step('consumers')],
        ['outbox', step('outbox')],
      ],
      () => assert.fail('nothing failed'),
    );
    assert.deepEqual(log, ['consumers begins', 'consumers ends', 'outbox begins', 'outbox ends']);
  });

  it('when steps fail, then the steps after them still run, each failure is heard as it happens, and the stop fails naming them all', async () => {
    const log: string[] = [];
    const refused = new Error('connection refused');
    const stop = stopInOrder(
      [
        [
          'retention',
          () => {
            throw refused;
          },
        ],
        ['job runner', () => log.push('job runner stopped')],
        ['outbox', () => Promise.reject(new Error('flush failed'))],
        ['http', () => log.push('http stopped')],
      ],
      (step, err) => log.push(`${step} failed: ${(err as Error).message}`),
    );
    const err = await stop.then(
      () => assert.fail('the stop should fail'),
      (e: unknown) => e,
    );
    assert.deepEqual(log, [
      'retention failed: connection refused',
      'job runner stopped',
      'outbox failed: flush failed',
      'http stopped',
    ]);
    assert.ok(err instanceof StopFailedError);
    assert.equal(err.message, 'failed to stop: retention, outbox');
    assert.deepEqual(err.steps, ['retention', 'outbox']);
    assert.equal(err.cause, refused);
  });
});
