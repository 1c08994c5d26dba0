import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { currentTraceId, withSpan } from '../src/index.ts';

// No SDK in this process: the API is a no-op and withSpan must stay transparent.
describe('trace helpers without an SDK', () => {
  it('when no span is active, then currentTraceId is null', () => {
    assert.equal(currentTraceId(), null);
  });

  it('when withSpan runs, then it returns the result and still reports no trace id', async () => {
    const result = await withSpan('work', () => Promise.resolve({ seen: currentTraceId() }), {
      a: 1,
    });
    assert.deepEqual(result, { seen: null });
  });

  it('when the function throws, then withSpan rethrows the same error', async () => {
    const err = new Error('nope');
    await assert.rejects(
      withSpan('work', () => Promise.reject(err)),
      (thrown) => thrown === err,
    );
  });
});
