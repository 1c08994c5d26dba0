import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor, WaitForTimeoutError } from '../src/index.ts';

describe('waitFor', { timeout: 10_000 }, () => {
  it('when the probe turns truthy, then resolves with its value', async () => {
    let calls = 0;
    const value = await waitFor(() => (++calls >= 3 ? { calls } : null), { intervalMs: 1 });
    assert.deepEqual(value, { calls: 3 });
  });

  it('when an async probe throws before succeeding, then the throws count as "not yet"', async () => {
    let calls = 0;
    const value = await waitFor(
      () => {
        calls += 1;
        return calls < 3 ? Promise.reject(new Error('not ready')) : Promise.resolve('ready');
      },
      { intervalMs: 1 },
    );
    assert.equal(value, 'ready');
    assert.equal(calls, 3);
  });

  it('when the probe keeps throwing, then times out naming the wait and the last error', async () => {
    let calls = 0;
    const started = Date.now();
    const error = await waitFor(
      () => {
        calls += 1;
        throw new Error(`boom ${calls}`);
      },
      { timeoutMs: 100, intervalMs: 10, message: 'the queue to drain' },
    ).then(
      () => assert.fail('waitFor resolved'),
      (err: unknown) => err,
    );
    assert.ok(error instanceof WaitForTimeoutError);
    assert.match(error.message, /timed out after \d+ ms/);
    assert.match(error.message, /waiting for the queue to drain/);
    assert.match(error.message, new RegExp(`last error: boom ${calls}\\b`));
    assert.ok(calls > 1, 'probe was polled more than once');
    assert.ok(Date.now() - started >= 100);
  });

  it('when the probe stays falsy, then the timeout error reports the last value', async () => {
    await assert.rejects(
      waitFor(() => 0, { timeoutMs: 50, intervalMs: 5 }),
      /last value: 0/,
    );
  });

  it('when the probe fails and then turns falsy, then the error is still reported', async () => {
    let calls = 0;
    const probe = () => {
      calls += 1;
      if (calls === 1) throw new Error('connection refused');
      return false;
    };

    await assert.rejects(
      waitFor(probe, { timeoutMs: 50, intervalMs: 5 }),
      /last value: false; earlier error: connection refused/,
    );
  });

  it('when the probe never settles, then the deadline still holds', async () => {
    const started = Date.now();
    await assert.rejects(
      waitFor(() => new Promise<boolean>(() => {}), { timeoutMs: 100, message: 'a hung probe' }),
      /waiting for a hung probe; the last probe never settled/,
    );
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 100 && elapsed < 2_000, `elapsed ${elapsed} ms`);
  });
});
