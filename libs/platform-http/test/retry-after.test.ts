import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRetryAfter } from '../src/index.ts';

describe('Retry-After from a platform', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  const wait = (value: string | null) => parseRetryAfter(value, now);

  it('when it gives seconds or an HTTP date ahead, then the retry waits that long', () => {
    assert.equal(wait('2'), 2_000);
    assert.equal(wait(' 30 '), 30_000);
    assert.equal(wait('Thu, 01 Jan 2026 00:01:00 GMT'), 60_000);
  });

  it('when it asks for more than an hour (a huge number of seconds, a date years ahead), then the wait is capped at an hour, so a platform cannot park a job', () => {
    for (const value of ['99999999999', 'Fri, 01 Jan 2100 00:00:00 GMT']) {
      assert.equal(wait(value), 3_600_000, value);
    }
  });

  it('when it is negative, zero, a date past, empty, garbage or beyond a double (1e400), then it is ignored and the retry tiers alone decide', () => {
    const ignored = ['-5', '0', 'Wed, 31 Dec 2025 23:00:00 GMT', '', 'soon', 'NaN', '1e400', null];
    for (const value of ignored) assert.equal(wait(value), undefined, String(value));
  });
});
