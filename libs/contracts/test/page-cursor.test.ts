import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '@psc/core';
import { logsQuery, platformCursor, recordCursor, validationCursor } from '../src/index.ts';

const b64 = (text: string) => Buffer.from(text).toString('base64url');

const badRequest = (fn: () => unknown) =>
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof AppError);
    assert.equal(err.status, 400);
    assert.equal(err.code, 'bad_request');
    assert.match(err.message, /cursor must come from a previous page/);
    return true;
  });

describe('page cursors', () => {
  it('when a cursor psc handed out comes back, then it decodes to the same sort key', () => {
    const key = { parentKey: '', key: 'Booth 1, "east"' };
    assert.deepEqual(recordCursor.decode(recordCursor.encode(key)), key);
    const at = { at: '2026-12-03T15:00:00.000Z', jobId: '0b7c6a3e-55a8-4b8e-9a59-0d1c7f1e2a10' };
    assert.deepEqual(validationCursor.decode(validationCursor.encode(at)), at);
    assert.equal(platformCursor.decode(platformCursor.encode('booths-a')), 'booths-a');
    assert.equal(recordCursor.decode(undefined), undefined);
    assert.equal(recordCursor.decode(''), undefined);
  });

  it('when a cursor is garbage, the wrong shape or holds a NUL byte, then decoding is a 400 bad_request', () => {
    for (const cursor of ['!!not-base64!!', b64('"x"'), b64('{"key":{"a":1}}'), b64('[1,2]')]) {
      badRequest(() => recordCursor.decode(cursor));
    }
    badRequest(() => recordCursor.decode(b64('{"parentKey":"","key":"a\\u0000b"}')));
    badRequest(() => validationCursor.decode(b64('{"at":"yesterday","jobId":"x"}')));
    badRequest(() => platformCursor.decode(b64('{"a":1}')));
    badRequest(() => platformCursor.decode('x'.repeat(400)));
  });

  it('when a collector of an earlier release answers logs.query without nextCursor, then the answer still holds, with no next page', () => {
    const answer = logsQuery.response.parse({ items: [] });
    assert.deepEqual(answer, { items: [], nextCursor: null });
  });
});
